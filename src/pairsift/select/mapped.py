"""The reduce side of a selection: the driver runs :class:`~pairsift.select.passes.SelectPass` tasks on
an engine (local processes or Ray), merges what they return, and decides each rule's filter.

The driver holds merged histograms (65,536 counts), the rows tied at a threshold, the funnel's counts
and, at the end, the kept uids that make the subset file; never a score column or a mask of the pool.
Each task holds one table. Fused columns are fitted first, by a statistics pass whose per-table
partials the driver merges in shard order (the same numbers as one process reading the tables), and then
go with every pass; ``rank`` is the one statistic of pool size (its sorted values: 4 bytes per sample, in
the driver and in each task). The cut is the one :func:`~pairsift.select.exact_top_k.top_k` finds in one
process (the same histogram walk, the same tie order), so the subset file has the same bytes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from pairsift.errors import InputError
from pairsift.io.score_tables import read_score_schema
from pairsift.progress import track
from pairsift.select.exact_top_k import BINS, Cut, choose_ties, streaming_key, unsortable
from pairsift.select.fusion import Fusion
from pairsift.select.passes import (
    CountOp,
    HistogramOp,
    KeysOp,
    Op,
    SelectPass,
    ShardFilter,
    StatisticsOp,
    TiesOp,
)
from pairsift.select.step import Step
from pairsift.select.tables import ScoreTables

logger = logging.getLogger(__name__)


class Failure(Protocol):
    @property
    def error(self) -> str: ...


class Outcome(Protocol):
    """What a mapper yields per shard (:class:`pairsift.engines.Outcome` is one)."""

    @property
    def shard(self) -> str: ...

    @property
    def result(self) -> Any: ...

    @property
    def failure(self) -> Failure | None: ...


class Mapper(Protocol):
    """Runs a task over shard names (:class:`pairsift.engines.Engine` is one)."""

    def map(self, task: SelectPass, shards: Sequence[str]) -> Iterator[Outcome]: ...

    def session(self) -> AbstractContextManager[None]: ...


class _Done:
    def __init__(self, shard: str, result: Any) -> None:
        self.shard, self.result, self.failure = shard, result, None


class InProcess:
    """The mapper when none is given: each pass, shard after shard, in this process."""

    def session(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def map(self, task: SelectPass, shards: Sequence[str]) -> Iterator[_Done]:
        task.setup()
        for shard in shards:
            yield _Done(shard, task(shard))


class MappedSelection:
    """The chain of filters decided so far, and the passes that decide the next one."""

    def __init__(self, tables: ScoreTables, engine: Mapper, *, datacomp_threshold: bool = False) -> None:
        self.tables = tables
        self.engine = engine
        self.run_dir = str(tables.run.path)
        self.datacomp_threshold = datacomp_threshold
        self.higher = tables.higher_is_better()
        self.base = tables.total
        self.filters: list[ShardFilter] = []
        self.fusions: dict[str, Fusion] = {}
        self.passes = 0
        self.desc = "selecting"  #: the progress display's label for the passes that follow
        self._steps: list[tuple[int, Step]] = []
        self._counts: list[int] = []  # rows kept after each filter, as far as a pass has counted

    def check_column(self, name: str) -> None:
        self.tables.check_column(name, extra=tuple(self.fusions))

    def fit(self, fusions: list[Fusion]) -> None:
        """Fit the fused columns from one statistics pass (before any filter: over every row), merged in
        shard order; later passes can then name them."""
        for fusion in fusions:
            for column in fusion.weights:
                self.tables.check_column(column)
        inputs = tuple(dict.fromkeys((f.method, c) for f in fusions for c in f.weights))
        partials = self.run(StatisticsOp(inputs))
        index = {pair: i for i, pair in enumerate(inputs)}
        shards = self.tables.shards
        for fusion in fusions:
            fusion.merge({c: [partials[s][index[fusion.method, c]] for s in shards] for c in fusion.weights})
            self.fusions[fusion.name] = fusion

    def add(self, shard_filter: ShardFilter) -> None:
        self.filters.append(shard_filter)

    def run(self, op: Op) -> dict[str, Any]:
        """One pass of ``op`` over every shard (after the filters); its values, by shard."""
        task = SelectPass(self.run_dir, tuple(self.filters), op, tuple(self.fusions.values()))
        values: dict[str, Any] = {}
        counts = np.zeros(len(self.filters), dtype=np.int64)
        outcomes = self.engine.map(task, self.tables.shards)
        for outcome in track(outcomes, self.desc, total=len(self.tables.shards)):
            if outcome.failure is not None:
                raise InputError(f"selection: shard {outcome.shard} failed: {outcome.failure.error}")
            result = outcome.result
            assert result is not None
            counts += np.asarray(result.counts, dtype=np.int64)
            values[outcome.shard] = result.value
        self.passes += 1
        self._counts = [int(c) for c in counts]
        return values

    def count(self, index: int) -> int:
        """Rows kept after filter ``index`` (a count pass only when no pass has counted it yet)."""
        if index >= len(self._counts):
            self.run(CountOp())
        return self._counts[index]

    @property
    def kept(self) -> int:
        return self.count(len(self.filters) - 1) if self.filters else self.tables.total

    def step(self, rule: str, threshold: float | None = None) -> Step:
        """The funnel line of the filter just added; its ``kept`` is filled by :meth:`finish`."""
        step = Step(rule, -1, self.base, threshold)
        self._steps.append((len(self.filters) - 1, step))
        return step

    def finish(self) -> None:
        """Fill the funnel's counts (from the last pass, which counted every filter)."""
        for index, step in self._steps:
            step.kept = self.count(index) if index >= 0 else self.tables.total

    def ranked_higher(self, name: str) -> bool:
        return self.higher.get(name, True)

    def display(self, name: str, threshold: float) -> float:
        return threshold if self.ranked_higher(name) else -threshold

    def top_k(self, column: str, k: int) -> Cut:
        """The cut keeping ``min(k, available)`` kept rows with the largest ranked ``column``."""
        if k <= 0:
            return Cut(threshold=np.inf)
        higher = self.ranked_higher(column)
        width = 32 if column in self.fusions else self._width(column)  # a fused column is float32

        def histogram(prefix: int, shift: int) -> np.ndarray:
            merged = np.zeros(BINS, dtype=np.int64)
            for bins, counts in self.run(HistogramOp(column, higher, prefix, shift, width)).values():
                merged[bins] += counts
            return merged

        found, available = streaming_key(k, width, histogram)
        if found is None:
            return Cut(threshold=-np.inf, keep_all=True, available=available)
        key, above = found
        threshold = unsortable(key, width)
        ties: dict[str, np.ndarray] = {}
        if k - above > 0:
            tied = self.run(TiesOp(column, higher, threshold))
            candidates = {s: v for s, v in tied.items() if len(v[1])}
            ties = choose_ties(self.tables.shards, candidates, k - above)
        return Cut(threshold=threshold, ties=ties, available=available)

    def _width(self, column: str) -> int:
        schema = read_score_schema(next(iter(self.tables.paths.values())))
        return 64 if pa.types.is_float64(schema.field(column).type) else 32

    def kept_keys(self) -> list[np.ndarray]:
        """The kept rows' well-formed uid keys, shard by shard (the last pass)."""
        keys = self.run(KeysOp())
        return [keys[s] for s in self.tables.shards]
