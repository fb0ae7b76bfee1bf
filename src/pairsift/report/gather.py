"""Two streaming passes over a run's score tables gather everything the report shows.

Each pass is an engine task per table (:mod:`pairsift.report.passes`; local processes or Ray, one table
in memory per task); the driver merges what they return. Pass 1: statuses, per-column moments, Pearson
correlations, subset overlap and label counts, the random row sample and every gallery's top-k. Pass 2:
exact histograms, now that the ranges are known. The driver holds the merged figures and the bounded
samples, never a column of the pool; it folds the float sums in shard order, as one process reading
table after table does, so every figure is the same to the last bit on any engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from pairsift.engines import Engine, EngineConfig, ShardTask, make_engine
from pairsift.errors import InputError
from pairsift.progress import track
from pairsift.report.config import ReportConfig
from pairsift.report.galleries import Gallery
from pairsift.report.labels import LabelIndex
from pairsift.report.passes import HistogramPass, ShardStats, StatsPass, Sums
from pairsift.report.run_info import RunInfo
from pairsift.report.sampling import KBest
from pairsift.report.selections import Selection
from pairsift.report.stats import Histogram, LabelCounts, Moments, Overlap, spearman

T = TypeVar("T")


@dataclass
class ReportData:
    info: RunInfo
    selections: list[Selection]
    galleries: list[Gallery]
    labels: LabelIndex | None
    rows: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    moments: dict[str, Moments] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    overlay: dict[str, int | None] = field(default_factory=dict)  #: column -> subset drawn as "kept"
    pearson: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    spearman: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    sample: KBest = field(default_factory=lambda: KBest(0))
    overlap: Overlap = field(default_factory=lambda: Overlap(0))
    label_counts: LabelCounts | None = None


def gather(
    info: RunInfo,
    selections: list[Selection],
    galleries: list[Gallery],
    labels: LabelIndex | None,
    config: ReportConfig,
    engine: Engine | None = None,
) -> ReportData:
    """Both passes on ``engine`` (stage ``report``; default: this process), merged."""
    engine = engine or make_engine(EngineConfig(), "report")
    data = ReportData(info, selections, galleries, labels)
    data.sample = KBest(config.sample)
    for gallery in galleries:
        gallery.picks = KBest(config.cards)
    with engine.session():  # both passes share the engine's workers
        sums = _first_pass(data, engine, config)
        data.rows, data.statuses, data.moments = sums.rows, dict(sorted(sums.statuses.items())), sums.moments
        data.overlap, data.label_counts = sums.overlap, sums.labels
        data.pearson = sums.correlation.matrix()
        data.spearman = spearman(data.sample.payload.get("values", np.zeros((0, len(info.scores)))))
        _histograms(data, engine, config.bins)
    return data


def _first_pass(data: ReportData, engine: Engine, config: ReportConfig) -> Sums:
    info, subsets = data.info, tuple(s.index for s in data.selections)
    task = StatsPass(
        str(info.tables.run.path),
        subsets,
        tuple(info.scores),
        data.labels,
        tuple(g.key for g in data.galleries),
        config.sample,
        config.cards,
        config.seed,
    )
    labels = None if data.labels is None else len(data.labels.names)
    total = Sums.empty(tuple(info.scores), len(subsets), labels)

    def samples_first(stats: ShardStats) -> tuple[int, Sums]:
        data.sample.merge(stats.sample)  # samples merge in any order: only the sums wait for their turn
        for gallery, picks in zip(data.galleries, stats.picks, strict=True):
            gallery.picks.merge(picks)
        return stats.index, stats.sums

    results = _run(engine, task, info.shards, "report: reading score tables")
    for sums in in_order(map(samples_first, results)):
        total.merge(sums)
    return total


def _histograms(data: ReportData, engine: Engine, bins: int) -> None:
    info = data.info
    for c in info.scores:
        m = data.moments[c]
        if m.finite:
            data.histograms[c] = Histogram(m.low, m.high, bins)
            data.overlay[c] = _overlay(data.selections, c)
    if not data.histograms:
        return
    ranges = {c: (h.low, h.high) for c, h in data.histograms.items()}
    subsets = tuple(s.index for s in data.selections)
    task = HistogramPass(str(info.tables.run.path), subsets, ranges, bins, dict(data.overlay))
    for counts in _run(engine, task, info.shards, "report: histograms"):
        for c, histogram in data.histograms.items():
            histogram.merge(counts[c])


def _run(engine: Engine, task: ShardTask[T], shards: Sequence[str], desc: str) -> Iterator[T]:
    """The task's results over ``shards`` (completion order); a failed table is an error naming it."""
    for outcome in track(engine.map(task, shards), desc, total=len(shards)):
        if outcome.failure is not None:
            raise InputError(f"report: shard {outcome.shard} failed: {outcome.failure.error}")
        assert outcome.result is not None
        yield outcome.result


def in_order(items: Iterator[tuple[int, T]]) -> Iterator[T]:
    """The items of positions 0, 1, 2, ... in that order, each as soon as every earlier one has come
    (what waits is only what came early)."""
    waiting: dict[int, T] = {}
    position = 0
    for index, item in items:
        waiting[index] = item
        while position in waiting:
            yield waiting.pop(position)
            position += 1
    if waiting:
        raise ValueError(f"positions {sorted(waiting)} came, but not position {position}")


def _overlay(selections: list[Selection], column: str) -> int | None:
    """The first subset whose selection cut ``column``, else the first subset, else none."""
    for i, s in enumerate(selections):
        if column in s.thresholds:
            return i
    return 0 if selections else None
