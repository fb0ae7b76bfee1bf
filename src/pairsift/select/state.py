"""The mutable state of a selection: which rows are kept, and the size fractions count against."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pairsift.io.subsets import SubsetIndex
from pairsift.progress import TrackedShards
from pairsift.select.fusion import Fusion
from pairsift.select.tables import ScoreTables


class SelectionState:
    """Kept-row masks per shard (1 byte per sample), the base size, and column access.

    ``base`` starts as the number of rows of the pool (valid or not) and becomes the size of the
    restricted set after ``--restrict``. Columns are read from the score tables (or computed, for
    fused columns) one shard at a time, only when a rule needs them.
    """

    def __init__(
        self,
        tables: ScoreTables,
        *,
        fusions: list[Fusion] | None = None,
        streaming: bool = False,
        datacomp_threshold: bool = False,
    ) -> None:
        self.tables = tables
        self.shards = TrackedShards(tables.shards, "selecting")  # each pass over the tables shows progress
        self.masks = {s: np.ones(n, dtype=bool) for s, n in tables.rows.items()}
        self.base = tables.total
        self.streaming = streaming
        self.datacomp_threshold = datacomp_threshold
        self.higher = tables.higher_is_better()
        self.fusions = {f.name: f for f in fusions or []}
        for fusion in self.fusions.values():
            for column in fusion.weights:
                self.check_column(column)
            fusion.fit(self.shards, tables.column)

    def check_column(self, name: str) -> None:
        self.tables.check_column(name, extra=tuple(self.fusions))

    def read(self, shard: str, name: str) -> np.ndarray:
        fusion = self.fusions.get(name)
        if fusion is None:
            return self.tables.column(shard, name)
        return fusion.values({c: self.tables.column(shard, c) for c in fusion.weights})

    def ranked(self, name: str) -> Callable[[str], np.ndarray]:
        """Column reader oriented so that larger is better (negated for lower-is-better scores)."""
        if self.higher.get(name, True):
            return lambda shard: self.read(shard, name)
        return lambda shard: -self.read(shard, name)

    def display(self, name: str, threshold: float) -> float:
        """A threshold on the :meth:`ranked` scale, back on the column's own scale."""
        return threshold if self.higher.get(name, True) else -threshold

    def uid_keys(self, shard: str) -> tuple[np.ndarray, np.ndarray]:
        return self.tables.uid_keys(shard)

    def member(self, shard: str, subset: SubsetIndex) -> np.ndarray:
        keys, ok = self.tables.uid_keys(shard)
        return subset.contains_keys(keys) & ok

    def update(self, keep: Callable[[str], np.ndarray]) -> int:
        """Replace every shard's mask by ``keep(shard)``; returns the number of kept rows."""
        for shard in self.shards:
            self.masks[shard] = keep(shard)
        return self.kept

    @property
    def kept(self) -> int:
        return sum(int(m.sum()) for m in self.masks.values())
