"""Exact streaming statistics over all rows of a run, fed one shard at a time.

- :class:`Moments`: finite count, non-finite count, min, max, mean and standard deviation of a column;
- :class:`Histogram`: counts in equal-width bins between the column's exact min and max (a second
  pass, once :class:`Moments` knows the range), for all rows and for the rows a subset keeps;
- :class:`Correlation`: Pearson correlation of every pair of columns over the rows where both are
  finite (sums of products in float64);
- :class:`Overlap`: rows per membership pattern (which of the subsets hold the row);
- :class:`LabelCounts`: rows per label, and kept rows per label for each subset.

Each is fed one shard (an engine task), then merged into the driver's (``merge``): counts, minima and
maxima in any order, the float sums in shard order, so the merged figures are the ones one process
adding shard after shard gets, to the last bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Moments:
    finite: int = 0
    nonfinite: int = 0
    low: float = math.inf
    high: float = -math.inf
    total: float = 0.0
    squares: float = 0.0

    def add(self, values: np.ndarray) -> None:
        ok = np.isfinite(values)
        v = values[ok].astype(np.float64)
        self.nonfinite += int(len(values) - len(v))
        if len(v):
            self.finite += len(v)
            self.low, self.high = min(self.low, float(v.min())), max(self.high, float(v.max()))
            self.total += float(v.sum())
            self.squares += float(np.dot(v, v))

    def merge(self, other: Moments) -> None:
        self.finite += other.finite
        self.nonfinite += other.nonfinite
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)
        self.total += other.total
        self.squares += other.squares

    @property
    def mean(self) -> float:
        return self.total / self.finite if self.finite else math.nan

    @property
    def std(self) -> float:
        if not self.finite:
            return math.nan
        return math.sqrt(max(self.squares / self.finite - self.mean**2, 0.0))


@dataclass
class Histogram:
    """Equal-width bins over ``[low, high]``; the last bin includes ``high``."""

    low: float
    high: float
    bins: int
    counts: np.ndarray = field(init=False)
    kept: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros(self.bins, dtype=np.int64)
        self.kept = np.zeros(self.bins, dtype=np.int64)

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.low, self.high, self.bins + 1)

    def add(self, values: np.ndarray, kept: np.ndarray | None = None) -> None:
        ok = np.isfinite(values)
        index = self._index(values[ok].astype(np.float64))
        self.counts += np.bincount(index, minlength=self.bins)
        if kept is not None:
            self.kept += np.bincount(index[kept[ok]], minlength=self.bins)

    def merge(self, other: Histogram) -> None:
        self.counts += other.counts
        self.kept += other.kept

    def _index(self, v: np.ndarray) -> np.ndarray:
        span = self.high - self.low
        if span <= 0:
            return np.zeros(len(v), dtype=np.int64)
        index = np.floor((v - self.low) / span * self.bins).astype(np.int64)
        return np.clip(index, 0, self.bins - 1)


class Correlation:
    """Pairwise-complete Pearson correlation of ``m`` columns, streamed."""

    def __init__(self, m: int) -> None:
        shape = (m, m)
        self.n = np.zeros(shape, dtype=np.int64)
        self.sx, self.sy, self.sxx, self.syy, self.sxy = (np.zeros(shape) for _ in range(5))

    def add(self, columns: list[np.ndarray]) -> None:
        finite = [np.isfinite(c) for c in columns]
        for i, x in enumerate(columns):
            for j in range(i, len(columns)):
                both = finite[i] & finite[j]
                a, b = x[both].astype(np.float64), columns[j][both].astype(np.float64)
                self.n[i, j] += len(a)
                self.sx[i, j] += a.sum()
                self.sy[i, j] += b.sum()
                self.sxx[i, j] += np.dot(a, a)
                self.syy[i, j] += np.dot(b, b)
                self.sxy[i, j] += np.dot(a, b)

    def merge(self, other: Correlation) -> None:
        self.n += other.n
        for mine, theirs in zip(self.sums, other.sums, strict=True):
            mine += theirs

    @property
    def sums(self) -> tuple[np.ndarray, ...]:
        return self.sx, self.sy, self.sxx, self.syy, self.sxy

    def matrix(self) -> np.ndarray:
        """Symmetric ``(m, m)`` correlations; NaN where fewer than 2 rows or a column is constant."""
        m = len(self.n)
        out = np.full((m, m), np.nan)
        for i in range(m):
            for j in range(i, m):
                out[i, j] = out[j, i] = self._pearson(i, j)
        return out

    def _pearson(self, i: int, j: int) -> float:
        n = int(self.n[i, j])
        if n < 2:
            return math.nan
        cov = self.sxy[i, j] - self.sx[i, j] * self.sy[i, j] / n
        vx = self.sxx[i, j] - self.sx[i, j] ** 2 / n
        vy = self.syy[i, j] - self.sy[i, j] ** 2 / n
        if vx <= 0 or vy <= 0:
            return math.nan
        return float(np.clip(cov / math.sqrt(vx * vy), -1.0, 1.0))


def spearman(sample: np.ndarray) -> np.ndarray:
    """Pairwise-complete Spearman correlation of the columns of ``sample`` (rows x columns)."""
    m = sample.shape[1]
    out = np.full((m, m), np.nan)
    for i in range(m):
        for j in range(i, m):
            both = np.isfinite(sample[:, i]) & np.isfinite(sample[:, j])
            if both.sum() < 2:
                continue
            a, b = _ranks(sample[both, i]), _ranks(sample[both, j])
            if a.std() > 0 and b.std() > 0:
                out[i, j] = out[j, i] = float(np.corrcoef(a, b)[0, 1])
    return out


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends - 1) / 2.0
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


class Overlap:
    """Rows per membership pattern: bit ``i`` set when subset ``i`` holds the row."""

    def __init__(self, subsets: int) -> None:
        self.subsets = subsets
        self.counts = np.zeros(1 << subsets, dtype=np.int64)

    def add(self, patterns: np.ndarray) -> None:
        self.counts += np.bincount(patterns, minlength=len(self.counts))

    def merge(self, other: Overlap) -> None:
        self.counts += other.counts

    def kept(self, i: int) -> int:
        """Rows held by subset ``i``."""
        return int(self.counts[(np.arange(len(self.counts)) >> i) & 1 == 1].sum())

    def both(self, i: int, j: int) -> int:
        """Rows held by subsets ``i`` and ``j``."""
        patterns = np.arange(len(self.counts))
        return int(self.counts[((patterns >> i) & (patterns >> j) & 1) == 1].sum())


class LabelCounts:
    """Rows per label, and rows per label held by each subset (label -1, unlabelled, is counted apart)."""

    def __init__(self, labels: int, subsets: int) -> None:
        self.rows = np.zeros(labels, dtype=np.int64)
        self.kept = np.zeros((subsets, labels), dtype=np.int64)
        self.unlabelled = 0

    def add(self, codes: np.ndarray, patterns: np.ndarray) -> None:
        known = codes >= 0
        self.unlabelled += int((~known).sum())
        codes, patterns = codes[known].astype(np.int64), patterns[known]
        self.rows += np.bincount(codes, minlength=len(self.rows))
        for i in range(len(self.kept)):
            held = (patterns >> i) & 1 == 1
            self.kept[i] += np.bincount(codes[held], minlength=len(self.rows))

    def merge(self, other: LabelCounts) -> None:
        self.rows += other.rows
        self.kept += other.kept
        self.unlabelled += other.unlabelled

    def shares(self) -> np.ndarray:
        """``(subsets, labels)`` share of each label's rows that each subset keeps (NaN: no rows)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.rows > 0, self.kept / np.maximum(self.rows, 1), np.nan)
