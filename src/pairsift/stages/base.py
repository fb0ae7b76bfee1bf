"""The one shard loop every stage runs on (embed, caption, score, reshard), and its :class:`Summary`.

A stage is a picklable per-shard task plus a completion marker per shard (a file written last). The loop
is always the same: the shards whose marker is missing are still to do; the engine maps the task over
them (here, in worker processes or on Ray); each outcome is logged as it comes; failures are kept as
data; the reports are summed. :func:`run_shards` is that loop; a stage only says what its task,
markers and log line are.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pairsift.engines import EngineConfig, Outcome, ShardFailure, ShardTask, make_engine
from pairsift.errors import ConfigError
from pairsift.io.decoders import reserved_decoders
from pairsift.io.fs import sweep_temporaries
from pairsift.io.location import Location, check_reachable, output_path
from pairsift.io.raw import open_raw_input
from pairsift.progress import track
from pairsift.registry import Registry

logger = logging.getLogger(__name__)

#: stage name -> ``(prerequisite, score config) -> Summary``: how the score stage makes what a scorer
#: declares in :meth:`~pairsift.scorers.base.Scorer.prerequisites` (e.g. ``caption``); each stage
#: module registers its own
PREREQUISITES: Registry[Callable[[Any, Any], Summary]] = Registry(
    "prerequisite stage", modules=("pairsift.stages.caption",)
)


@dataclass
class ShardReport:
    """What one shard task did: rows written, images decoded and processed (raw stages), statuses, time."""

    shard: str
    rows: int
    statuses: dict[str, int]
    seconds: float
    images: int = 0


@dataclass
class Summary:
    """What a stage run did: shards in all, done by this run (``processed``), already done before
    (``skipped``), the rows, images and statuses of the shards done now, failures, wall time."""

    output: str
    shards: int
    processed: int
    skipped: int
    rows: int = 0
    images: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[ShardFailure] = field(default_factory=list)
    seconds: float = 0.0
    #: shard -> attempts, for the shards the engine ran more than once (after an error or a lost worker)
    retried: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def check_reading_options(config: Any) -> None:
    """The options every raw-image stage config has: batch, prefetch, pixel cap >= 1; decoding
    processes >= 0."""
    for name in ("batch_size", "prefetch", "max_pixels"):
        if getattr(config, name) < 1:
            raise ConfigError(f"{name} must be >= 1, got {getattr(config, name)}")
    if config.num_workers is not None and config.num_workers < 0:
        raise ConfigError(f"num_workers must be >= 0 (or unset: automatic), got {config.num_workers}")


def shards_to_do(shards: list[str], done: Callable[[str], bool], doing: str, source: str) -> list[str]:
    """The shards not ``done`` yet, logged as ``"<doing> <source>: N shards, ..."``."""
    todo = [s for s in shards if not done(s)]
    finished = len(shards) - len(todo)
    logger.info(
        "%s %s: %d shards, %d to do, %d already done", doing, source, len(shards), len(todo), finished
    )
    return todo


def gather(
    outcomes: Iterable[Outcome[Any]],
    summary: Summary,
    desc: str,
    total: int,
    describe: Callable[[Any], str] | None = None,
) -> Summary:
    """Consume the outcomes with progress; log each shard; add its rows, images and statuses to
    ``summary``; keep failures (sorted by shard). ``describe(result)`` is the log line of a finished
    shard (default: rows, time and images/s of a :class:`ShardReport`)."""
    statuses: Counter[str] = Counter(summary.statuses)
    for i, outcome in enumerate(track(outcomes, desc, total=total), 1):
        if outcome.attempts > 1:
            logger.warning("shard %s was retried: %d attempts", outcome.shard, outcome.attempts)
            summary.retried[outcome.shard] = outcome.attempts
        if outcome.failure is not None:
            logger.error("[%d/%d] shard %s failed: %s", i, total, outcome.shard, outcome.failure.error)
            summary.failures.append(outcome.failure)
        elif (r := outcome.result) is not None:
            if isinstance(r, ShardReport):
                summary.rows += r.rows
                summary.images += r.images
                statuses.update(r.statuses)
            logger.info("[%d/%d] %s", i, total, (describe or _describe)(r))
    summary.statuses = dict(sorted(statuses.items()))
    summary.failures.sort(key=lambda f: f.shard)
    summary.retried = dict(sorted(summary.retried.items()))
    return summary


def retried_lines(retried: dict[str, int]) -> list[str]:
    """The summary's lines for the shards the engine ran more than once."""
    return [f"RETRIED {shard}: {n} attempts" for shard, n in retried.items()]


def _describe(r: ShardReport) -> str:
    line = f"{r.shard}: {r.rows} rows in {r.seconds:.2f}s"
    if r.images:
        rate = r.images / r.seconds if r.seconds > 0 else float("inf")
        line += f" ({rate:.1f} images/s)"
    return line


def run_raw_stage(
    task: ShardTask[Any], config: Any, check: Callable[[Location], None], *, stage: str, doing: str
) -> Summary:
    """A stage over raw image shards (embed, caption): ``config.input`` read as ``config.input_format``,
    ``OUT/<shard>.parquet`` written last as each shard's marker, ``check(OUT)`` refusing an output made
    with other settings; each worker decodes in ``config.num_workers`` processes beside its model."""
    source = open_raw_input(config.input, config.input_format)
    out = output_path(config.output)
    check_reachable(out)
    out.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(out)
    check(out)
    return run_shards(
        task,
        source.shards(),
        lambda shard: (out / f"{shard}.parquet").exists(),
        config.engine,
        stage=stage,
        doing=doing,
        source=config.input,
        output=str(out),
        cpus=reserved_decoders(config.num_workers, config.device) + 1,
    )


def run_shards(
    task: ShardTask[Any],
    shards: list[str],
    done: Callable[[str], bool],
    engine: EngineConfig,
    *,
    stage: str,
    doing: str,
    source: str,
    output: str,
    cpus: float = 1.0,
    describe: Callable[[Any], str] | None = None,
) -> Summary:
    """Run ``task`` on the shards not yet ``done`` with the configured engine; the :class:`Summary`.

    ``cpus``: the cores one worker of this stage needs unless ``engine.resources.<stage>.cpus`` says
    (a raw-image stage decodes in DataLoader processes beside its model, so it asks for one more each).
    """
    start = time.perf_counter()
    todo = shards_to_do(shards, done, doing, source)
    summary = Summary(output, len(shards), processed=len(todo), skipped=len(shards) - len(todo))
    runner = make_engine(engine, stage, cpus=cpus)
    gather(runner.map(task, todo), summary, doing, len(todo), describe)
    summary.seconds = time.perf_counter() - start
    return summary
