"""``caption``: raw image shards -> a caption cache, one parquet per shard (SIEVE's first step).

Per input shard ``S`` the cache gets ``OUT/S.parquet`` with ``uid``, ``key``, ``status`` (as in
``pairsift embed``: ``ok``, ``missing_image``, ``corrupt_image``, ``image_too_large``) and ``captions``
(a list of strings; null where the image could not be decoded), written atomically: the file is also
the shard's completion marker, so a rerun captions only the shards still missing. ``OUT/captions.json``
records the captioner and its decoding settings; a rerun with others is refused, so a cache never
mixes captions of two settings. Sampling is seeded per batch (:func:`batch_seed`), so a shard's
captions depend on the seed and the batch size, not on the engine, worker count or run order.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.compute import Compute
from pairsift.config import ConfigError
from pairsift.engines import EngineConfig, ShardFailure
from pairsift.io.fs import atomic_write
from pairsift.io.images import ShardBatches, chunk_loader
from pairsift.io.raw import DEFAULT_MAX_PIXELS, RawInput, open_raw_input
from pairsift.models.captioners import (
    DEFAULT_CAPTIONER,
    Captioner,
    CaptionSettings,
    batch_seed,
    load_captioner,
)
from pairsift.raw_stage import RawShardReport, check_reading_options, run_stage

logger = logging.getLogger(__name__)

MANIFEST = "captions.json"
CAPTIONS_COLUMN = "captions"


@dataclass(frozen=True)
class CaptionConfig:
    """What ``pairsift caption`` does; the same names as its options."""

    input: str
    output: str
    model: str = DEFAULT_CAPTIONER
    settings: CaptionSettings = field(default_factory=CaptionSettings)
    seed: int = 0
    input_format: str = "auto"
    batch_size: int = 64  #: images per generate call (also the unit of seeding)
    device: str = "auto"
    precision: str = "fp32"
    num_workers: int = 2  #: DataLoader decoding processes per shard task
    prefetch: int = 2
    max_pixels: int = DEFAULT_MAX_PIXELS
    workers: int = 1  #: shard tasks in parallel (local engine processes)
    engine: EngineConfig = field(default_factory=EngineConfig)  #: where shards run (stage ``caption``)

    def __post_init__(self) -> None:
        check_reading_options(self)

    def record(self) -> dict[str, Any]:
        """What the cached captions depend on (checked on resume)."""
        return {
            "model": self.model,
            "settings": self.settings.to_dict(),
            "seed": self.seed,
            "batch_size": self.batch_size,
            "precision": self.precision,
        }


def caption_shard(
    source: RawInput, shard: str, captioner: Captioner, config: CaptionConfig
) -> tuple[pa.Table, int]:
    """Caption one raw shard: the cache table, and how many images were captioned."""
    dataset = ShardBatches(
        source,
        shard,
        preprocess=captioner.preprocess(),
        tokenize=None,
        batch_size=config.batch_size,
        max_pixels=config.max_pixels,
    )
    pin = captioner.device.type == "cuda"
    uids: list[str] = []
    keys: list[str] = []
    status: list[str] = []
    texts: list[list[str] | None] = []
    images = 0
    for chunk in chunk_loader(
        dataset, num_workers=config.num_workers, prefetch=config.prefetch, pin_memory=pin
    ):
        rows: list[list[str] | None] = [None] * len(chunk.keys)
        if chunk.pixels is not None:
            seed = batch_seed(config.seed, shard, chunk.index)
            for row, captions in zip(
                chunk.image_rows,
                captioner.caption(chunk.pixels, config.settings, seed=seed),
                strict=True,
            ):
                rows[row] = captions
            images += len(chunk.image_rows)
        uids += chunk.uids
        keys += chunk.keys
        status += chunk.status
        texts += rows
    table = pa.table(
        {
            "uid": pa.array(uids, pa.string()),
            "key": pa.array(keys, pa.string()),
            "status": pa.array(status, pa.string()),
            CAPTIONS_COLUMN: pa.array(texts, pa.list_(pa.string())),
        }
    )
    return table, images


def write_captions(path: Path, table: pa.Table) -> None:
    atomic_write(path, lambda fh: pq.write_table(table, fh, compression="zstd"))


class CaptionShardTask:
    """Caption one raw shard into the cache. Picklable; the captioner loads in :meth:`setup`."""

    def __init__(self, config: CaptionConfig) -> None:
        self.config = config

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_")}

    def setup(self) -> None:
        c = self.config
        self.captioner_ = load_captioner(c.model, Compute.resolve(c.device, c.precision))
        self.input_ = open_raw_input(c.input, c.input_format)

    def __call__(self, shard: str) -> RawShardReport:
        start = time.perf_counter()
        table, images = caption_shard(self.input_, shard, self.captioner_, self.config)
        write_captions(Path(self.config.output) / f"{shard}.parquet", table)
        statuses = Counter(table.column("status").to_pylist())
        return RawShardReport(shard, table.num_rows, images, dict(statuses), time.perf_counter() - start)


@dataclass
class CaptionSummary:
    output: str
    shards: int
    captioned: int
    skipped: int
    rows: int = 0
    images: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[ShardFailure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def caption(config: CaptionConfig) -> CaptionSummary:
    """Caption every input shard not yet in the cache; failed shards are reported, not fatal."""
    start = time.perf_counter()
    source = open_raw_input(config.input, config.input_format)
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    check_manifest(out, config)
    shards = source.shards()
    todo, gathered = run_stage(
        CaptionShardTask(config),
        shards,
        out,
        config.engine,
        stage="caption",
        doing="captioning",
        source=config.input,
        workers=config.workers,
        decoders=config.num_workers,
    )
    summary = CaptionSummary(str(out), len(shards), captioned=len(todo), skipped=len(shards) - len(todo))
    summary.rows, summary.images = gathered.rows, gathered.images
    summary.statuses, summary.failures = gathered.statuses, gathered.failures
    summary.seconds = time.perf_counter() - start
    return summary


def check_manifest(out: Path, config: CaptionConfig) -> None:
    """Write ``captions.json``, or refuse a cache made with another captioner or other settings."""
    record = config.record()
    path = out / MANIFEST
    if path.exists():
        previous = json.loads(path.read_text())
        fixed = {k: previous.get(k) for k in record}
        if fixed != record:
            differ = sorted(k for k in record if fixed[k] != record[k])
            raise ConfigError(
                f"{path}: this caption cache was made with other {', '.join(differ)} "
                f"({[fixed[k] for k in differ]}, not {[record[k] for k in differ]}); "
                "use another cache directory"
            )
        return
    content = json.dumps({**record, "config": _jsonable(config)}, indent=2).encode()
    atomic_write(path, lambda fh: fh.write(content))


def _jsonable(config: CaptionConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(config).items() if k != "engine"}


def read_captions(path: Path) -> pa.Table:
    """A cached shard's table (``uid``, ``status``, ``captions``)."""
    return pq.read_table(path, columns=["uid", "status", CAPTIONS_COLUMN])
