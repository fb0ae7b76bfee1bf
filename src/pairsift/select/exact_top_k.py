"""Exact global "top k by a column" over score tables, in memory or streaming.

Both paths return the same :class:`Cut`: the exact threshold value and, for rows tied at it, which
ones are kept (smaller uid first). The streaming path never holds more than one shard's column: it
maps float32 values to order-preserving uint32 keys and finds the k-th largest key with two
histogram passes (65,536 bins on the high 16 bits, then on the low 16 bits inside the boundary bin).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

Column = Callable[[str], np.ndarray]
UidKeys = Callable[[str], tuple[np.ndarray, np.ndarray]]

_BINS = 1 << 16


def sortable(values: np.ndarray) -> np.ndarray:
    """float32 -> uint32 keys with the same order (for finite values; -0.0 maps like 0.0)."""
    bits = (np.asarray(values, dtype=np.float32) + np.float32(0)).view(np.uint32)
    negative = (bits >> np.uint32(31)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint32(0x80000000))


def unsortable(key: int) -> float:
    """Inverse of :func:`sortable` for one key."""
    bits = key & 0x7FFFFFFF if key & 0x80000000 else ~key & 0xFFFFFFFF
    return float(np.array([bits], dtype=np.uint32).view(np.float32)[0])


@dataclass
class Cut:
    """``value > threshold`` rows are kept; of the rows equal to it, those in ``ties`` (per shard)."""

    threshold: float
    ties: dict[str, np.ndarray] = field(default_factory=dict)
    keep_all: bool = False

    def mask(self, shard: str, values: np.ndarray, current: np.ndarray) -> np.ndarray:
        finite = current & np.isfinite(values)
        if self.keep_all:
            return finite
        keep = finite & (values > np.float32(self.threshold))
        rows = self.ties.get(shard)
        if rows is not None and len(rows):
            keep[rows] = True
        return keep


def top_k(
    shards: list[str],
    k: int,
    column: Column,
    uid_keys: UidKeys,
    masks: Mapping[str, np.ndarray],
    *,
    streaming: bool,
) -> Cut:
    """The cut that keeps exactly ``min(k, finite rows)`` rows of ``masks`` with the largest values."""
    if k <= 0:
        return Cut(threshold=np.inf)
    finder = _streaming_key if streaming else _in_memory_key
    found = finder(shards, k, column, masks)
    if found is None:
        return Cut(threshold=-np.inf, keep_all=True)
    key, above = found
    threshold = unsortable(key)
    return Cut(threshold=threshold, ties=_break_ties(shards, k - above, threshold, column, uid_keys, masks))


def _finite_keys(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return sortable(values[mask & np.isfinite(values)])


def _in_memory_key(
    shards: list[str], k: int, column: Column, masks: Mapping[str, np.ndarray]
) -> tuple[int, int] | None:
    keys = np.concatenate([_finite_keys(column(s), masks[s]) for s in shards] or [np.zeros(0, np.uint32)])
    if k >= len(keys):
        return None
    kth = int(np.partition(keys, len(keys) - k)[len(keys) - k])
    return kth, int((keys > kth).sum())


def _streaming_key(
    shards: list[str], k: int, column: Column, masks: Mapping[str, np.ndarray]
) -> tuple[int, int] | None:
    high = np.zeros(_BINS, dtype=np.int64)
    for s in shards:
        high += np.bincount(_finite_keys(column(s), masks[s]) >> np.uint32(16), minlength=_BINS)
    total = int(high.sum())
    if k >= total:
        return None
    top_bin, above = _boundary(high, k)
    low = np.zeros(_BINS, dtype=np.int64)
    for s in shards:
        keys = _finite_keys(column(s), masks[s])
        low += np.bincount(keys[(keys >> np.uint32(16)) == top_bin] & np.uint32(0xFFFF), minlength=_BINS)
    low_bin, above_low = _boundary(low, k - above)
    return (top_bin << 16) | low_bin, above + above_low


def _boundary(hist: np.ndarray, k: int) -> tuple[int, int]:
    """The bin holding the k-th largest entry, and how many entries lie in higher bins."""
    from_top = np.cumsum(hist[::-1])
    index = int(np.searchsorted(from_top, k))  # first position where the count reaches k
    bin_ = _BINS - 1 - index
    above = int(from_top[index - 1]) if index else 0
    return bin_, above


def _break_ties(
    shards: list[str],
    need: int,
    threshold: float,
    column: Column,
    uid_keys: UidKeys,
    masks: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Of the rows equal to the threshold, the ``need`` with the smallest uids (per shard rows)."""
    if need <= 0:
        return {}
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for i, s in enumerate(shards):
        values = column(s)
        rows = np.flatnonzero(masks[s] & (values == np.float32(threshold)))
        if len(rows):
            keys, _ = uid_keys(s)
            found.append((keys[rows], np.full(len(rows), i), rows))
    keys = np.concatenate([f[0] for f in found])
    owner = np.concatenate([f[1] for f in found])
    rows = np.concatenate([f[2] for f in found])
    chosen = np.lexsort((rows, owner, keys[:, 1], keys[:, 0]))[:need]
    return {shards[i]: np.sort(rows[chosen][owner[chosen] == i]) for i in np.unique(owner[chosen])}
