"""Write a world: the pool tars, ``labels.parquet``, the task tars and ``world.json``."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN
from pairsift.errors import InputError
from pairsift.io.fs import atomic_write
from pairsift.world import noise
from pairsift.world.attributes import ATTRIBUTES, VALUES, sample_scene
from pairsift.world.pool import TASK_STREAM, Record, encode, make_uids, plan_pool, sample_files
from pairsift.world.render import render_scene
from pairsift.world.shards import SampleFiles, write_shards
from pairsift.world.tasks import TASKS, Task, get_task

logger = logging.getLogger(__name__)

SPLITS = ("train", "test")
IMAGE_FORMATS = ("jpg", "png")


@dataclass(frozen=True)
class WorldConfig:
    """What to generate. ``shares`` maps each kind to its fraction of the pool (they sum to 1)."""

    samples: int = 5000
    shard_size: int = 1000
    seed: int = 0
    image_size: int = 64
    task_samples: int = 500  # images per task and split
    shares: dict[str, float] = field(default_factory=lambda: dict(noise.DEFAULT_SHARES))
    tasks: tuple[str, ...] = ("shape", "colour", "count")
    image_format: str = "jpg"
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        for name in ("samples", "task_samples"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {self.shard_size}")
        if not 16 <= self.image_size <= 1024:
            raise ValueError(f"image_size must be in [16, 1024], got {self.image_size}")
        if self.image_format not in IMAGE_FORMATS:
            raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {self.image_format!r}")
        unknown = sorted(set(self.shares) - set(noise.KINDS))
        if unknown:
            raise ValueError(f"unknown kinds {unknown} in shares; available: {', '.join(noise.KINDS)}")
        if any(v < 0 for v in self.shares.values()) or abs(sum(self.shares.values()) - 1) > 1e-6:
            raise ValueError(f"shares must be >= 0 and sum to 1, got {self.shares}")
        for task in self.tasks:
            get_task(task)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tasks": list(self.tasks)}


def with_shares(overrides: dict[str, float], base: dict[str, float] | None = None) -> dict[str, float]:
    """``base`` (default: the default shares) with some kinds set; ``clean`` absorbs the difference."""
    shares = {**(base or noise.DEFAULT_SHARES), **overrides}
    if noise.CLEAN not in overrides:
        shares[noise.CLEAN] = 1 - sum(v for k, v in shares.items() if k != noise.CLEAN)
        if shares[noise.CLEAN] < -1e-9:
            raise ValueError(f"shares of the noise kinds sum to more than 1: {overrides}")
        shares[noise.CLEAN] = max(shares[noise.CLEAN], 0.0)
    return shares


@dataclass
class WorldSummary:
    out_dir: str
    samples: int
    kinds: dict[str, int]
    pool_tars: list[str]
    tasks: dict[str, dict[str, int]]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def generate(out_dir: str | Path, config: WorldConfig | None = None) -> WorldSummary:
    """Write the world of ``config`` into ``out_dir``, which must be new or empty."""
    config = config or WorldConfig()
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: output directory is not empty; choose a new one")
    start = time.perf_counter()
    records = plan_pool(config.samples, config.shares, config.seed)
    (out / "pool").mkdir(parents=True, exist_ok=True)
    files = sample_files(records, config.image_size, config.seed, config.image_format, config.jpeg_quality)
    tars = write_shards(out / "pool", files, config.shard_size)
    _write_labels(out / "labels.parquet", records)
    task_counts = {name: _write_task(out / "tasks" / name, get_task(name), config) for name in config.tasks}
    atomic_write(out / "world.json", lambda fh: fh.write(json.dumps(config.to_dict(), indent=2).encode()))
    kinds = Counter(r.kind for r in records)
    summary = WorldSummary(
        out_dir=str(out),
        samples=len(records),
        kinds={k: kinds.get(k, 0) for k in noise.KINDS},
        pool_tars=tars,
        tasks=task_counts,
        seconds=time.perf_counter() - start,
    )
    logger.info("wrote %d pool samples into %d tars in %.1fs", summary.samples, len(tars), summary.seconds)
    return summary


def _write_labels(path: Path, records: list[Record]) -> None:
    """``labels.parquet``: uid, key, kind, the image's attributes (null when it shows none), caption…"""
    columns: dict[str, pa.Array] = {
        UID_COLUMN: pa.array([r.uid for r in records], pa.string()),
        "key": pa.array([r.key for r in records], pa.string()),
        "kind": pa.array([r.kind for r in records], pa.string()),
    }
    for attribute in ATTRIBUTES:
        values = [getattr(r.scene, attribute) if r.scene else None for r in records]
        columns[attribute] = pa.array(values, pa.int8() if attribute == "count" else pa.string())
    columns["caption"] = pa.array([r.caption for r in records], pa.string())
    columns["detail"] = pa.array([r.detail for r in records], pa.string())
    sources = [records[r.source].uid if r.source is not None else None for r in records]
    columns["source_uid"] = pa.array(sources, pa.string())
    table = pa.table(columns)
    atomic_write(path, lambda fh: pq.write_table(table, fh))


def _write_task(directory: Path, task: Task, config: WorldConfig) -> dict[str, int]:
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split_index, split in enumerate(SPLITS):
        (directory / split).mkdir(exist_ok=True)
        files = _task_files(task, split_index, config)
        write_shards(directory / split, files, config.shard_size)
        counts[split] = config.task_samples
    classes = json.dumps(task.to_dict(), indent=2).encode()
    atomic_write(directory / "classes.json", lambda fh: fh.write(classes))
    return counts


def _task_files(task: Task, split_index: int, config: WorldConfig) -> Iterator[SampleFiles]:
    """Clean renderings with balanced classes in random order."""
    task_index = list(TASKS).index(task.name)
    rng = np.random.default_rng([config.seed, TASK_STREAM, task_index, split_index])
    n = config.task_samples
    labels = rng.permutation(np.arange(n) % len(task.classes))
    uids = make_uids(config.seed, (1, task_index, split_index), n)
    values = VALUES[task.attribute]
    for i, label in enumerate(labels.tolist()):
        scene = sample_scene(rng, **{task.attribute: values[label]})
        image = encode(render_scene(scene, config.image_size, rng), config.image_format, config.jpeg_quality)
        meta = {UID_COLUMN: uids[i], "label": task.classes[label], "class": label, **scene.to_dict()}
        members = [
            (config.image_format, image),
            ("cls", str(label).encode()),
            ("json", json.dumps(meta, sort_keys=True).encode()),
        ]
        yield f"{i:08d}", members
