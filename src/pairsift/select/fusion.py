"""Weighted fusion of normalised scores, with statistics computed over the whole pool.

``minmax``: (x − min) / (max − min); ``zscore``: (x − mean) / std; ``rank``: the fraction of the
pool's finite values strictly below x. min/max/mean/std are streamed (one pass per input column);
``rank`` holds the sorted finite values of each input column in memory (4 bytes per sample).
A row with a NaN in any input column gets NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pairsift.registry import Registry

Column = Callable[[str], np.ndarray]
ColumnReader = Callable[[str, str], np.ndarray]  # (shard, column name) -> values


class Normalizer:
    """Fitted on a whole column (all shards), then applied shard by shard."""

    def fit(self, shards: list[str], column: Column) -> Normalizer:
        raise NotImplementedError

    def apply(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict[str, float]:
        return {}


NORMALIZERS: Registry[type[Normalizer]] = Registry("normalisation")


@NORMALIZERS.register("minmax")
class MinMax(Normalizer):
    def fit(self, shards: list[str], column: Column) -> MinMax:
        low, high = math.inf, -math.inf
        for s in shards:
            v = column(s)
            v = v[np.isfinite(v)]
            if len(v):
                low, high = min(low, float(v.min())), max(high, float(v.max()))
        self.low_, self.high_ = low, high
        return self

    def apply(self, values: np.ndarray) -> np.ndarray:
        span = self.high_ - self.low_
        return (values.astype(np.float64) - self.low_) / (span if span > 0 else 1.0)

    def describe(self) -> dict[str, float]:
        return {"min": self.low_, "max": self.high_}


@NORMALIZERS.register("zscore")
class ZScore(Normalizer):
    def fit(self, shards: list[str], column: Column) -> ZScore:
        count, total, squares = 0, 0.0, 0.0
        for s in shards:
            v = column(s).astype(np.float64)
            v = v[np.isfinite(v)]
            count, total, squares = count + len(v), total + float(v.sum()), squares + float((v * v).sum())
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
    def fit(self, shards: list[str], column: Column) -> Rank:
        parts = [column(s) for s in shards]
        pooled = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        self.sorted_ = np.sort(pooled[np.isfinite(pooled)])
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

    def fit(self, shards: list[str], read: ColumnReader) -> None:
        self.fitted = {c: NORMALIZERS.get(self.method)().fit(shards, _bind(read, c)) for c in self.weights}

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
