"""Bounded samples of a run's rows, streamed shard by shard.

:class:`KBest` keeps the ``k`` rows with the largest key seen so far (ties: earlier shard, then
earlier row) with optional per-row payload columns. With the key a column's value it is an exact
streaming top-k; with the key a uniform random number it is a uniform sample without replacement
(the ``k`` largest of i.i.d. uniforms), which is how the report samples rows for its scatter plot,
its rank correlations and its random galleries. Memory is ``O(k)`` whatever the number of rows.
"""

from __future__ import annotations

import numpy as np


class KBest:
    def __init__(self, k: int) -> None:
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        self.k = k
        self.keys = np.zeros(0, dtype=np.float64)
        self.shards = np.zeros(0, dtype=np.int32)
        self.rows = np.zeros(0, dtype=np.int64)
        self.payload: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, shard: int, keys: np.ndarray, payload: dict[str, np.ndarray] | None = None) -> None:
        """Offer the rows of one shard (shards in increasing order); NaN and -inf keys are never kept."""
        keys = np.asarray(keys, dtype=np.float64)
        candidate = np.isfinite(keys) | (keys == np.inf)
        if len(self.keys) == self.k and self.k:  # full: a later shard must beat the smallest key kept
            candidate &= keys > self.keys[-1]
        rows = np.flatnonzero(candidate)
        if len(rows) > self.k:
            rows = self._best(keys, rows)
        if not len(rows):
            return
        self.keys = np.concatenate([self.keys, keys[rows]])
        self.shards = np.concatenate([self.shards, np.full(len(rows), shard, dtype=np.int32)])
        self.rows = np.concatenate([self.rows, rows])
        for name, values in (payload or {}).items():
            taken = np.asarray(values)[rows]
            current = self.payload.get(name)
            self.payload[name] = taken if current is None else np.concatenate([current, taken])
        self._trim()

    def merge(self, other: KBest) -> None:
        """Add the rows ``other`` kept (its shards' own numbers): the same rows, in the same order, as
        :meth:`add` of all of its shards here, in any order of merging (ties are broken by position)."""
        rows = np.arange(len(other))
        if len(self.keys) == self.k:  # full: only keys that beat or tie the smallest kept can enter
            rows = rows[other.keys >= self.keys[-1]] if self.k else rows[:0]
        if not len(rows):
            return
        self.keys = np.concatenate([self.keys, other.keys[rows]])
        self.shards = np.concatenate([self.shards, other.shards[rows]])
        self.rows = np.concatenate([self.rows, other.rows[rows]])
        for name, values in other.payload.items():
            current = self.payload.get(name)
            self.payload[name] = values[rows] if current is None else np.concatenate([current, values[rows]])
        self._trim()

    def _best(self, keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The ``k`` of ``rows`` with the largest keys, earlier rows first among ties, in row order."""
        if not self.k:
            return rows[:0]
        values = keys[rows]
        kth = np.partition(values, len(values) - self.k)[len(values) - self.k]
        above = rows[values > kth]
        tied = rows[values == kth][: self.k - len(above)]
        return np.sort(np.concatenate([above, tied]))

    def _trim(self) -> None:
        order = np.lexsort((self.rows, self.shards, -self.keys))[: self.k]
        self.keys, self.shards, self.rows = self.keys[order], self.shards[order], self.rows[order]
        self.payload = {name: values[order] for name, values in self.payload.items()}
