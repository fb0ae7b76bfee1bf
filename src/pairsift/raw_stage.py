"""What the per-shard stages over raw image shards share (``embed``, ``caption``): which shards are still
to do (their output parquet is the completion marker), the per-shard report, running the stage on an
engine and gathering the outcomes."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairsift.config import ConfigError
from pairsift.engines import EngineConfig, ShardFailure, make_engine
from pairsift.engines.base import Outcome, ShardTask
from pairsift.io.fs import sweep_temporaries
from pairsift.progress import track

logger = logging.getLogger(__name__)


@dataclass
class RawShardReport:
    """What one shard task did: rows written, images decoded and processed, statuses, time."""

    shard: str
    rows: int
    images: int
    statuses: dict[str, int]
    seconds: float


def check_reading_options(config: Any) -> None:
    """The options every raw-image stage config has: batch, prefetch, pixel cap, workers >= 1;
    decoding processes >= 0."""
    for name in ("batch_size", "prefetch", "max_pixels", "workers"):
        if getattr(config, name) < 1:
            raise ConfigError(f"{name} must be >= 1, got {getattr(config, name)}")
    if config.num_workers < 0:
        raise ConfigError(f"num_workers must be >= 0, got {config.num_workers}")


def shards_to_do(shards: list[str], out: Path, doing: str, source: str) -> list[str]:
    """The shards without ``OUT/<shard>.parquet``, logged as ``"<doing> <source>: N shards, ..."``."""
    todo = [s for s in shards if not (out / f"{s}.parquet").exists()]
    done = len(shards) - len(todo)
    logger.info("%s %s: %d shards, %d to do, %d already done", doing, source, len(shards), len(todo), done)
    return todo


@dataclass
class Gathered:
    """The sums over the shards of a stage run."""

    rows: int = 0
    images: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[ShardFailure] = field(default_factory=list)


def gather(outcomes: Iterable[Outcome[RawShardReport]], desc: str, total: int) -> Gathered:
    """Consume the outcomes with progress; log each shard; sum rows, images and statuses; keep failures."""
    statuses: Counter[str] = Counter()
    failures: list[ShardFailure] = []
    rows = images = 0
    for i, outcome in enumerate(track(outcomes, desc, total=total), 1):
        if outcome.failure is not None:
            logger.error("shard %s failed: %s", outcome.shard, outcome.failure.error)
            failures.append(outcome.failure)
        elif (r := outcome.result) is not None:
            rows += r.rows
            images += r.images
            statuses.update(r.statuses)
            rate = r.images / r.seconds if r.seconds > 0 else float("inf")
            logger.info(
                "[%d/%d] %s: %d rows in %.2fs (%.1f images/s)", i, total, r.shard, r.rows, r.seconds, rate
            )
    return Gathered(rows, images, dict(sorted(statuses.items())), failures)


def run_stage(
    task: ShardTask[RawShardReport],
    shards: list[str],
    out: Path,
    engine: EngineConfig,
    *,
    stage: str,
    doing: str,
    source: str,
    workers: int,
    decoders: int,
) -> tuple[list[str], Gathered]:
    """Run ``task`` on the shards not yet in ``out`` with the configured engine; ``(todo, gathered)``.

    An actor decodes in ``decoders`` DataLoader processes while its main thread runs the model, so it
    reserves one core each by default.
    """
    out.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(out)
    todo = shards_to_do(shards, out, doing, source)
    runner = make_engine(engine, stage, workers=workers, cpus=decoders + 1)
    return todo, gather(runner.map(task, todo), doing, len(todo))
