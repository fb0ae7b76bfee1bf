"""What the per-shard stages over raw image shards share (``embed``, ``caption``): which shards are still
to do (their output parquet is the completion marker), the per-shard report, and gathering outcomes."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pairsift.engines import ShardFailure
from pairsift.engines.base import Outcome
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
