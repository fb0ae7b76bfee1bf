"""``caption``: raw image shards -> a caption cache, one parquet per shard (SIEVE's first step).

Per input shard ``S`` the cache gets ``OUT/S.parquet`` with ``uid``, ``key``, ``status`` (as in
``pairsift embed``: ``ok``, ``missing_image``, ``corrupt_image``, ``image_too_large``, …) and ``captions``
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
from typing import Any

import pyarrow as pa

from pairsift.data import STATUS_COLUMN, UID_COLUMN
from pairsift.device import Compute
from pairsift.engines import EngineConfig
from pairsift.errors import ConfigError
from pairsift.io.captions import CAPTIONS_COLUMN, write_captions
from pairsift.io.decoders import decoding_workers
from pairsift.io.fs import atomic_write
from pairsift.io.images import ShardBatches, chunk_loader
from pairsift.io.limits import ReadLimits, coerce_limits
from pairsift.io.location import Location, output_path
from pairsift.io.raw import DEFAULT_MAX_PIXELS, RawInput, open_raw_input
from pairsift.models.captioners import (
    DEFAULT_CAPTIONER,
    Captioner,
    CaptionSettings,
    batch_seed,
    load_captioner,
)
from pairsift.stages.base import PREREQUISITES, ShardReport, Summary, check_reading_options, run_raw_stage

logger = logging.getLogger(__name__)

MANIFEST = "captions.json"


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
    num_workers: int | None = None  #: DataLoader decoding processes per shard task (None: 0 on CPU, 2 on GPU)
    prefetch: int = 2
    max_pixels: int = DEFAULT_MAX_PIXELS
    engine: EngineConfig = field(default_factory=EngineConfig)  #: where shards run (stage ``caption``)
    limits: ReadLimits = field(default_factory=ReadLimits)  #: byte caps of every read (in captions.json)

    def __post_init__(self) -> None:
        coerce_limits(self)
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
        dataset,
        num_workers=decoding_workers(config.num_workers, captioner.device),
        prefetch=config.prefetch,
        pin_memory=pin,
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
            UID_COLUMN: pa.array(uids, pa.string()),
            "key": pa.array(keys, pa.string()),
            STATUS_COLUMN: pa.array(status, pa.string()),
            CAPTIONS_COLUMN: pa.array(texts, pa.list_(pa.string())),
        }
    )
    return table, images


class CaptionShardTask:
    """Caption one raw shard into the cache. Picklable; the captioner loads in :meth:`setup`."""

    def __init__(self, config: CaptionConfig) -> None:
        self.config = config

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_")}

    def setup(self) -> None:
        c = self.config
        self.captioner_ = load_captioner(c.model, Compute.resolve(c.device, c.precision))
        self.input_ = open_raw_input(c.input, c.input_format, c.limits)

    def __call__(self, shard: str) -> ShardReport:
        start = time.perf_counter()
        table, images = caption_shard(self.input_, shard, self.captioner_, self.config)
        write_captions(output_path(self.config.output) / f"{shard}.parquet", table)
        statuses = Counter(table.column(STATUS_COLUMN).to_pylist())
        return ShardReport(shard, table.num_rows, dict(statuses), time.perf_counter() - start, images)


def caption(config: CaptionConfig) -> Summary:
    """Caption every input shard not yet in the cache; failed shards are reported, not fatal."""
    return run_raw_stage(
        CaptionShardTask(config),
        config,
        lambda out: check_manifest(out, config),
        stage="caption",
        doing="captioning",
    )


@PREREQUISITES.register("caption")
def caption_for_scorer(need: Any, config: Any) -> Summary:
    """A scorer's caption prerequisite (SIEVE with ``images=``): caption the shards missing from its
    cache on the score run's device and engine."""
    return caption(CaptionConfig(**need.options, device=config.compute.device, engine=config.engine))


def check_manifest(out: Location, config: CaptionConfig) -> None:
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
