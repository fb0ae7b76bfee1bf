"""``score``: the per-shard scoring map, the pool-scorer stage, and the run summary.

Scorer objects (parameters only: :meth:`Scorer.setup` re-creates heavy state where the work runs) travel
to the workers inside the task, so a scorer defined in the user's own module runs everywhere. What a
scorer reads but a stage makes (SIEVE's caption cache) is declared by :meth:`Scorer.prerequisites`
and made by that stage, on the same engine, before any shard is scored.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pairsift.data import STATUS_COLUMN, UID_COLUMN
from pairsift.device import Compute
from pairsift.errors import ConfigError
from pairsift.io.duplicate_uids import mark_duplicates
from pairsift.io.location import parquet_rows, read_parquet
from pairsift.io.run_dir import RunDir, package_versions
from pairsift.io.score_tables import read_score_table, score_table, write_score_table
from pairsift.io.sources import Source, open_source
from pairsift.scorers import PoolScorer, Scorer, build_scorer
from pairsift.stages.base import PREREQUISITES, ShardReport, Summary, run_shards
from pairsift.stages.score_config import ScoreConfig

logger = logging.getLogger(__name__)


class ScoreShardTask:
    """Score one shard with every per-shard scorer and write its table. Picklable; set up per worker."""

    def __init__(self, config: ScoreConfig, scorers: list[Scorer], *, staged: bool) -> None:
        self.config = config
        self.scorers = [s for s in scorers if not isinstance(s, PoolScorer)]
        self.staged = staged

    def setup(self) -> None:
        c = self.config
        self.source_ = open_source(c.pool, c.embeddings, c.source)
        self.compute_ = Compute.resolve(c.compute.device, c.compute.precision)
        for scorer in self.scorers:
            scorer.setup(self.compute_, family=c.embeddings)
        self.run_ = RunDir(c.output)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_")}

    def __call__(self, shard: str) -> ShardReport:
        start = time.perf_counter()
        requires = frozenset().union(*(s.inputs() for s in self.scorers)) or frozenset({"image"})
        batch = self.source_.read(shard, requires)
        if len(batch) == 0:
            logger.warning("shard %s is empty; writing an empty score table", shard)
        scores: dict[str, np.ndarray] = {}
        for scorer in self.scorers:
            scores.update(scorer.score_columns(batch, self.compute_, seed=self.config.seed))
        path = self.run_.staged(shard) if self.staged else self.run_.table(shard)
        write_score_table(path, score_table(batch.uids, batch.status, scores))
        counts = Counter(batch.status.tolist())
        return ShardReport(shard, len(batch), dict(counts), time.perf_counter() - start)


def build_scorers(config: ScoreConfig) -> list[Scorer]:
    """Instantiate the configured scorers; two writing the same column is an error."""
    scorers = [build_scorer(spec.kind, spec.params) for spec in config.scorers]
    names = [c for s in scorers for c in s.output_columns()]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"several scorers would write the column(s) {dupes}; give them distinct name=")
    reserved = {UID_COLUMN, STATUS_COLUMN} & set(names)
    if reserved:
        raise ConfigError(f"a scorer may not be named {sorted(reserved)}: those columns are reserved")
    return scorers


@dataclass
class ScoreSummary(Summary):
    """A score run's :class:`Summary`, with ``rows`` and ``statuses`` over every score table on disk
    and figures per score column (``scored``, ``mean``, ``min``, ``max``)."""

    columns: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the pool-wide duplicate-uid pass (``run.json``'s ``duplicate_uids``); empty until every shard is scored
    duplicates: dict[str, Any] = field(default_factory=dict)


def score(config: ScoreConfig) -> ScoreSummary:
    """Run (or resume) a scoring run. Finished shards are skipped and left untouched."""
    start = time.perf_counter()
    source = open_source(config.pool, config.embeddings, config.source)
    shards = source.shards()
    compute = Compute.resolve(config.compute.device, config.compute.precision)
    scorers = build_scorers(config)
    for scorer in scorers:
        scorer.setup(compute, family=config.embeddings)
    run = RunDir(config.output)
    resuming = run.prepare(manifest(config, source, scorers, compute))
    pool_scorers = [s for s in scorers if isinstance(s, PoolScorer)]
    staged = bool(pool_scorers)

    def done(shard: str) -> bool:
        return run.table(shard).exists() or (staged and run.staged(shard).exists())

    if not all(done(s) for s in shards):
        make_prerequisites(scorers, config)
    mapped = run_shards(
        ScoreShardTask(config, scorers, staged=staged),
        shards,
        done,
        config.engine,
        stage="score",
        doing="resuming" if resuming else "scoring",
        source=config.pool,
        output=str(run.path),
    )
    summary = ScoreSummary(str(run.path), len(shards), mapped.processed, mapped.skipped)
    summary.failures = mapped.failures
    summary.retried = mapped.retried
    if pool_scorers and not summary.failures:
        finish_pool_stage(config, source, scorers, compute, run, shards)
    if not summary.failures:
        summary.duplicates = check_duplicates(run, shards, rescan=mapped.processed > 0)
    summarize(summary, run, shards, [s.column for s in scorers])
    summary.seconds = time.perf_counter() - start
    run.close()  # the run folder's lock
    return summary


def make_prerequisites(scorers: list[Scorer], config: ScoreConfig) -> None:
    """Run the stage of every scorer's prerequisite (e.g. caption the shards missing from SIEVE's cache)."""
    for scorer in scorers:
        for need in scorer.prerequisites(seed=config.seed, precision=config.compute.precision):
            logger.info("%s needs the %s stage first: running it", scorer.column, need.stage)
            made = PREREQUISITES.get(need.stage)(need, config)
            if not made.ok:
                failed = ", ".join(f"{f.shard} ({f.error})" for f in made.failures)
                raise ConfigError(f"{scorer.column}: its {need.stage} stage failed for shard(s) {failed}")


def finish_pool_stage(
    config: ScoreConfig,
    source: Source,
    scorers: list[Scorer],
    compute: Compute,
    run: RunDir,
    shards: list[str],
) -> None:
    """Run pool scorers over the whole pool, then write each shard's final table atomically."""
    missing = [s for s in shards if not run.table(s).exists()]
    if not missing:
        return
    pooled: dict[str, dict[str, np.ndarray]] = {}
    for scorer in scorers:
        if isinstance(scorer, PoolScorer):
            logger.info("pool stage: %s over %d shards", scorer.column, len(shards))
            pooled.update(scorer.score_pool_columns(source, compute, seed=config.seed, workdir=run.work))
    for shard in missing:
        staged = read_score_table(run.staged(shard))
        columns = {
            c: pooled[c][shard] if c in pooled else staged.column(c).to_numpy(zero_copy_only=False)
            for s in scorers
            for c in s.output_columns()
        }
        uids = staged.column(UID_COLUMN).to_numpy(zero_copy_only=False)
        status = staged.column(STATUS_COLUMN).to_numpy(zero_copy_only=False)
        write_score_table(run.table(shard), score_table(uids, status, columns))
        run.staged(shard).unlink()


#: ``run.json`` key of the pool-wide duplicate-uid pass
DUPLICATES = "duplicate_uids"


def check_duplicates(run: RunDir, shards: list[str], *, rescan: bool) -> dict[str, Any]:
    """Mark uids repeated across the pool's score tables (:func:`mark_duplicates`) and record what was
    found in ``run.json``; skipped when every table exists, none was written by this run (``rescan``)
    and the record says these very tables were checked."""
    if not all(run.table(s).exists() for s in shards):
        return {}
    earlier = run.read_manifest().get(DUPLICATES)
    rows = sum(parquet_rows(run.table(s)) for s in shards)
    checked = isinstance(earlier, dict) and (earlier.get("checked_shards"), earlier.get("checked_rows"))
    if not rescan and checked == (len(shards), rows):
        return earlier  # type: ignore[return-value]
    logger.info("checking %d rows of %d shards for duplicate uids", rows, len(shards))
    found = mark_duplicates([run.table(s) for s in shards], run.work)
    run.record(DUPLICATES, found.record())
    return found.to_dict()


def summarize(summary: ScoreSummary, run: RunDir, shards: list[str], columns: list[str]) -> None:
    """Fill row, status and per-column figures (of the score columns) from the score tables on disk."""
    statuses: Counter[str] = Counter()
    stats = {c: {"count": 0.0, "sum": 0.0, "min": math.inf, "max": -math.inf} for c in columns}
    for shard in shards:
        path = run.table(shard)
        if not path.exists():
            continue
        table = read_parquet(path, columns=[STATUS_COLUMN, *columns])
        summary.rows += table.num_rows
        statuses.update(table.column(STATUS_COLUMN).to_pylist())
        for c in columns:
            values = table.column(c).to_numpy(zero_copy_only=False)
            values = values[np.isfinite(values)]
            if len(values):
                s = stats[c]
                s["count"] += len(values)
                s["sum"] += float(values.sum(dtype=np.float64))
                s["min"] = min(s["min"], float(values.min()))
                s["max"] = max(s["max"], float(values.max()))
    summary.statuses = dict(sorted(statuses.items()))
    summary.columns = {
        c: {
            "scored": s["count"],
            "mean": s["sum"] / s["count"] if s["count"] else math.nan,
            "min": s["min"],
            "max": s["max"],
        }
        for c, s in stats.items()
    }


def manifest(config: ScoreConfig, source: Source, scorers: list[Scorer], compute: Compute) -> dict[str, Any]:
    """``run.json``: the scoring-relevant config (checked on resume) and everything else for the record."""
    raw = config.to_dict()
    scoring = {k: raw[k] for k in ("pool", "embeddings", "scorers", "source", "seed")}
    scoring["precision"] = config.compute.precision
    return {
        "scoring": scoring,
        "config": raw,
        "embedding_family": config.embeddings,
        "source": source.describe(),
        "scorers": [
            {
                "kind": s.kind,
                "class": f"{type(s).__module__}.{type(s).__qualname__}",
                "column": s.column,
                "columns": list(s.output_columns()),
                "params": s.params(),
                "higher_is_better": s.higher_is_better,
            }
            for s in scorers
        ],
        "seed": config.seed,
        "compute": {
            "device": str(compute.device),
            "precision": config.compute.precision,
            "workers": config.engine.workers,
            "engine": config.engine.kind,
        },
        "versions": package_versions(),
    }
