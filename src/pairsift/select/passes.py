"""The map side of a selection: one pass over one score table, as an engine task.

A selection is a chain of per-shard filters (a threshold, a top-k cut with its tied rows, a uid list);
the driver learns each filter's parameters from merged pass results (:mod:`pairsift.select.mapped`).
A :class:`SelectPass` replays the chain on one shard (so it holds one table's columns and one mask,
never the pool's) and then runs one :class:`Op` on the rows still kept: a histogram of their keys,
their rows tied at a threshold, or their uid keys. Every pass also returns how many rows each filter
of the chain kept, so the funnel's counts come with the passes the selection needs anyway.

Fused columns (``--fuse``) travel with the pass, fitted: a task computes a fused column from its
table's input columns, as one process reading that shard would. Fitting them is a pass of its own
(:class:`StatisticsOp`, before any filter): each task returns its table's partial statistics.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from pairsift.io.subsets import SubsetIndex, read_subset
from pairsift.select.exact_top_k import Cut, same_precision, shard_histogram, sortable
from pairsift.select.fusion import NORMALIZERS, Fusion
from pairsift.select.tables import ScoreTables

COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


class ShardRows:
    """One shard's columns, read once per pass, and the uid lists the filters test against."""

    def __init__(
        self,
        tables: ScoreTables,
        shard: str,
        subsets: dict[str, SubsetIndex],
        fusions: dict[str, Fusion] | None = None,
    ) -> None:
        self.tables = tables
        self.shard = shard
        self.rows = tables.rows[shard]
        self._scores: dict[str, np.ndarray] = {}
        self._columns: dict[str, np.ndarray] = {}
        self._subsets = subsets
        self._fusions = fusions or {}

    def score(self, name: str) -> np.ndarray:
        """A column as stored in the score table."""
        if name not in self._scores:
            self._scores[name] = self.tables.column(self.shard, name)
        return self._scores[name]

    def column(self, name: str) -> np.ndarray:
        """A column the rules name: a fused column (computed from its inputs), else a stored one."""
        if name not in self._columns:
            fusion = self._fusions.get(name)
            if fusion is None:
                self._columns[name] = self.score(name)
            else:
                self._columns[name] = fusion.values({c: self.score(c) for c in fusion.weights})
        return self._columns[name]

    def ranked(self, name: str, higher: bool) -> np.ndarray:
        """The column oriented so that larger is better."""
        values = self.column(name)
        return values if higher else -values

    @cached_property
    def uid_keys(self) -> tuple[np.ndarray, np.ndarray]:
        return self.tables.uid_keys(self.shard)

    def member(self, path: str) -> np.ndarray:
        if path not in self._subsets:  # read once per worker process
            self._subsets[path] = SubsetIndex(read_subset(path))
        keys, ok = self.uid_keys
        return self._subsets[path].contains_keys(keys) & ok


class ShardFilter(ABC):
    """One rule's decision, as it applies to any one shard (picklable, small)."""

    @abstractmethod
    def keep(self, rows: ShardRows, current: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ThresholdFilter(ShardFilter):
    column: str
    op: str
    value: float

    def keep(self, rows: ShardRows, current: np.ndarray) -> np.ndarray:
        values = rows.column(self.column)
        return current & COMPARE[self.op](values, same_precision(values, self.value))


@dataclass(frozen=True)
class CutFilter(ShardFilter):
    """A top-k cut: above the threshold, plus the tied rows it chose (``at_least``: DataComp's ``>=``)."""

    column: str
    higher: bool
    cut: Cut
    at_least: bool = False

    def keep(self, rows: ShardRows, current: np.ndarray) -> np.ndarray:
        values = rows.ranked(self.column, self.higher)
        if self.at_least:
            return current & np.isfinite(values) & (values >= same_precision(values, self.cut.threshold))
        return self.cut.mask(rows.shard, values, current)


@dataclass(frozen=True)
class SubsetFilter(ShardFilter):
    """A uid list combined with the kept rows by ``combine`` (a subset rule's own method)."""

    path: str
    combine: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def keep(self, rows: ShardRows, current: np.ndarray) -> np.ndarray:
        return self.combine(current, rows.member(self.path))


class Op(ABC):
    """What a pass computes from one shard's kept rows."""

    @abstractmethod
    def __call__(self, rows: ShardRows, kept: np.ndarray) -> Any: ...


class CountOp(Op):
    """Nothing beyond the counts every pass returns."""

    def __call__(self, rows: ShardRows, kept: np.ndarray) -> None:
        return None


@dataclass(frozen=True)
class HistogramOp(Op):
    """One shard's part of a histogram pass of :func:`~pairsift.select.exact_top_k.streaming_key`,
    sparse: ``(bins, counts)`` of the non-empty bins."""

    column: str
    higher: bool
    prefix: int
    shift: int
    width: int

    def __call__(self, rows: ShardRows, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = rows.ranked(self.column, self.higher)
        keys = sortable(values[kept & np.isfinite(values)])
        hist = shard_histogram(keys, self.prefix, self.shift, self.width)
        bins = np.flatnonzero(hist)
        return bins.astype(np.int32), hist[bins]


@dataclass(frozen=True)
class TiesOp(Op):
    """The kept rows equal to ``threshold``: ``(their uid keys, their rows)``."""

    column: str
    higher: bool
    threshold: float

    def __call__(self, rows: ShardRows, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = rows.ranked(self.column, self.higher)
        tied = np.flatnonzero(kept & (values == same_precision(values, self.threshold)))
        return (rows.uid_keys[0][tied] if len(tied) else np.zeros((0, 2), np.uint64)), tied


class KeysOp(Op):
    """The well-formed uid keys of the kept rows (what the subset file is built from)."""

    def __call__(self, rows: ShardRows, kept: np.ndarray) -> np.ndarray:
        if not kept.any():
            return np.zeros((0, 2), np.uint64)
        keys, ok = rows.tables.uid_keys(rows.shard, rows=kept)
        return np.asarray(keys[ok])


@dataclass(frozen=True)
class StatisticsOp(Op):
    """The table's :meth:`~pairsift.select.fusion.Normalizer.partial` statistics of each
    ``(normalisation, column)`` pair, over all its rows (run before any filter), in that order."""

    inputs: tuple[tuple[str, str], ...]

    def __call__(self, rows: ShardRows, kept: np.ndarray) -> tuple[Any, ...]:
        return tuple(NORMALIZERS.get(method).partial(rows.score(column)) for method, column in self.inputs)


@dataclass(frozen=True)
class PassResult:
    """One shard's answer: rows kept after each filter of the chain, and the op's value."""

    counts: tuple[int, ...]
    value: Any


@dataclass
class SelectPass:
    """An engine task: replay ``filters`` on a shard's table, then run ``op`` on the rows kept."""

    run_dir: str
    filters: tuple[ShardFilter, ...]
    op: Op
    #: the fused columns, fitted (``rank``'s carry the pool's sorted values: 4 bytes per sample)
    fusions: tuple[Fusion, ...] = ()
    _subsets: dict[str, SubsetIndex] = field(default_factory=dict, repr=False)

    def setup(self) -> None:
        self._tables = ScoreTables(self.run_dir)
        self._fusions = {f.name: f for f in self.fusions}

    def __call__(self, shard: str) -> PassResult:
        rows = ShardRows(self._tables, shard, self._subsets, self._fusions)
        kept = np.ones(rows.rows, dtype=bool)
        counts = []
        for shard_filter in self.filters:
            kept = shard_filter.keep(rows, kept)
            counts.append(int(kept.sum()))
        return PassResult(tuple(counts), self.op(rows, kept))
