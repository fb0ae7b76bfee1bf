"""Weighted fusion of normalised scores, with statistics computed over the whole pool.

``minmax``: (x − min) / (max − min); ``zscore``: (x − mean) / std; ``rank``: the fraction of the
pool's finite values strictly below x. A row with a NaN in any input column gets NaN.

A normaliser is fitted in two steps, so that the pool's statistics can be gathered by engine tasks
(one score table each) and merged in the driver: :meth:`Normalizer.partial` of each shard's column,
then :meth:`Normalizer.merge` of the partials in shard order, which gives the same numbers, bit for
bit, as one process reading the shards in that order. min/max and the float64 count, sum and sum of
squares are a few numbers per shard; ``rank`` keeps the sorted finite values of each input column
(4 bytes per sample), in the driver and in every task that reads the fused column.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pairsift.registry import Registry

Column = Callable[[str], np.ndarray]
ColumnReader = Callable[[str, str], np.ndarray]  # (shard, column name) -> values


class Normalizer:
    """Fitted on a whole column (all shards), then applied shard by shard."""

    @classmethod
    def partial(cls, values: np.ndarray) -> Any:
        """One shard's part of the statistics (small and picklable; a task returns it)."""
        raise NotImplementedError

    def merge(self, partials: Sequence[Any]) -> Normalizer:
        """Fit from the shards' :meth:`partial` results, given in shard order."""
        raise NotImplementedError

    def fit(self, shards: Sequence[str], column: Column) -> Normalizer:
        return self.merge([self.partial(column(s)) for s in shards])

    def apply(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict[str, float]:
        return {}


NORMALIZERS: Registry[type[Normalizer]] = Registry("normalisation")


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


@NORMALIZERS.register("minmax")
class MinMax(Normalizer):
    @classmethod
    def partial(cls, values: np.ndarray) -> tuple[float, float] | None:
        v = _finite(values)
        return (float(v.min()), float(v.max())) if len(v) else None

    def merge(self, partials: Sequence[tuple[float, float] | None]) -> MinMax:
        low, high = math.inf, -math.inf
        for part in partials:
            if part is not None:
                low, high = min(low, part[0]), max(high, part[1])
        self.low_, self.high_ = low, high
        return self

    def apply(self, values: np.ndarray) -> np.ndarray:
        span = self.high_ - self.low_
        return (values.astype(np.float64) - self.low_) / (span if span > 0 else 1.0)

    def describe(self) -> dict[str, float]:
        return {"min": self.low_, "max": self.high_}


@NORMALIZERS.register("zscore")
class ZScore(Normalizer):
    @classmethod
    def partial(cls, values: np.ndarray) -> tuple[int, float, float]:
        """Count, sum and sum of squares of the finite values, in float64."""
        v = _finite(values.astype(np.float64))
        return len(v), float(v.sum()), float((v * v).sum())

    def merge(self, partials: Sequence[tuple[int, float, float]]) -> ZScore:
        count, total, squares = 0, 0.0, 0.0
        for n, s, q in partials:  # accumulated in shard order, as one process reading them would
            count, total, squares = count + n, total + s, squares + q
        mean = total / count if count else 0.0
        self.mean_ = mean
        self.std_ = math.sqrt(max(squares / count - mean * mean, 0.0)) if count else 0.0
        return self

    def apply(self, values: np.ndarray) -> np.ndarray:
        return (values.astype(np.float64) - self.mean_) / (self.std_ if self.std_ > 0 else 1.0)

    def describe(self) -> dict[str, float]:
        return {"mean": self.mean_, "std": self.std_}


@NORMALIZERS.register("rank")
class Rank(Normalizer):
    @classmethod
    def partial(cls, values: np.ndarray) -> np.ndarray:
        """The shard's finite values (a task holds one table's; the merge holds the pool's)."""
        return _finite(values)

    def merge(self, partials: Sequence[np.ndarray]) -> Rank:
        pooled = np.concatenate(list(partials)) if len(partials) else np.zeros(0, np.float32)
        self.sorted_ = np.sort(pooled)
        return self

    def apply(self, values: np.ndarray) -> np.ndarray:
        below = np.searchsorted(self.sorted_, values, side="left").astype(np.float64)
        out = below / max(len(self.sorted_) - 1, 1)
        return np.where(np.isfinite(values), out, np.nan)

    def describe(self) -> dict[str, float]:
        return {"count": float(len(self.sorted_))}


@dataclass
class Fusion:
    """``name = Σ weight · normalise(column)`` over the named columns."""

    name: str
    weights: dict[str, float]
    method: str = "minmax"
    fitted: dict[str, Normalizer] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str, method: str = "minmax") -> Fusion:
        """``[NAME=]col:w,col:w`` (default NAME ``fused``)."""
        name, eq, rest = spec.partition("=")
        if not eq:
            name, rest = "fused", spec
        weights: dict[str, float] = {}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            col, colon, weight = item.rpartition(":")
            if not colon or not col:
                raise ValueError(f"--fuse {spec!r}: expected column:weight, got {item!r}")
            try:
                weights[col.strip()] = float(weight)
            except ValueError:
                raise ValueError(f"--fuse {spec!r}: weight of {col!r} is not a number: {weight!r}") from None
        if not weights:
            raise ValueError(f"--fuse {spec!r}: no columns")
        NORMALIZERS.get(method)
        return cls(name.strip(), weights, method)

    def fit(self, shards: Sequence[str], read: ColumnReader) -> None:
        """Fit in this process, reading every shard's input columns (one at a time)."""
        self.fitted = {c: NORMALIZERS.get(self.method)().fit(shards, _bind(read, c)) for c in self.weights}

    def merge(self, partials: Mapping[str, Sequence[Any]]) -> None:
        """Fit from each input column's per-shard :meth:`Normalizer.partial` results (in shard order)."""
        self.fitted = {c: NORMALIZERS.get(self.method)().merge(partials[c]) for c in self.weights}

    def values(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        total = sum(w * self.fitted[c].apply(columns[c]) for c, w in self.weights.items())
        return np.asarray(total, dtype=np.float32)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "method": self.method,
            "weights": self.weights,
            "statistics": {c: n.describe() for c, n in self.fitted.items()},
        }


def _bind(read: ColumnReader, name: str) -> Column:
    return lambda shard: read(shard, name)
