"""Exact global "top k by a column" over score tables, in memory or streaming.

Both paths return the same :class:`Cut`: the exact threshold value and, for rows tied at it, which
ones are kept (smaller uid first). The streaming path never holds more than one shard's column: it
maps float32 values to order-preserving uint32 keys (float64 values, as the ``column`` scorer keeps
DataComp's, to uint64 keys) and finds the k-th largest key with one histogram pass per 16 bits of key
(65,536 bins on the highest 16 bits, then on the next 16 inside the boundary bin, …): two passes for
float32, four for float64. Values are compared in their own precision throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Column = Callable[[str], np.ndarray]
UidKeys = Callable[[str], tuple[np.ndarray, np.ndarray]]

_BINS = 1 << 16
#: bins of one histogram pass (16 bits of key)
BINS = _BINS


#: value dtype -> the unsigned key dtype of the same width
_KEYS: dict[np.dtype[Any], np.dtype[Any]] = {
    np.dtype(np.float32): np.dtype(np.uint32),
    np.dtype(np.float64): np.dtype(np.uint64),
}


def _float(values: np.ndarray) -> np.ndarray:
    """float64 stays float64; anything else is compared as float32."""
    values = np.asarray(values)
    return values if values.dtype == np.float64 else values.astype(np.float32, copy=False)


def sortable(values: np.ndarray) -> np.ndarray:
    """float32 -> uint32 (float64 -> uint64) keys with the same order (for finite values; -0.0 maps
    like 0.0)."""
    values = _float(values)
    kind = _KEYS[values.dtype]
    bits = (values + values.dtype.type(0)).view(kind)
    sign = kind.type(1) << kind.type(8 * kind.itemsize - 1)
    negative = (bits & sign).astype(bool)
    return np.where(negative, ~bits, bits | sign)


def unsortable(key: int, width: int = 32) -> float:
    """Inverse of :func:`sortable` for one key of ``width`` bits (32: float32, 64: float64)."""
    kind = np.dtype(np.uint32) if width == 32 else np.dtype(np.uint64)
    sign, full = 1 << (width - 1), (1 << width) - 1
    bits = key & (sign - 1) if key & sign else ~key & full
    value = np.array([bits], dtype=kind).view(np.float32 if width == 32 else np.float64)[0]
    return float(value)


def same_precision(values: np.ndarray, threshold: float) -> np.floating:
    """``threshold`` in the dtype the column is compared in."""
    return _float(values).dtype.type(threshold)


@dataclass
class Cut:
    """``value > threshold`` rows are kept; of the rows equal to it, those in ``ties`` (per shard).

    ``available`` is the number of candidate rows (kept so far, with a finite value): the cut keeps
    ``min(k, available)`` of them (0 when ``k <= 0``: nothing is read then).
    """

    threshold: float
    ties: dict[str, np.ndarray] = field(default_factory=dict)
    keep_all: bool = False
    available: int = 0

    def mask(self, shard: str, values: np.ndarray, current: np.ndarray) -> np.ndarray:
        finite = current & np.isfinite(values)
        if self.keep_all:
            return finite
        keep = finite & (values > same_precision(values, self.threshold))
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
        return Cut(threshold=np.inf)  # reads nothing; ``available`` is not counted
    finder = _streaming_key if streaming else _in_memory_key
    found, available = finder(shards, k, column, masks)
    if found is None:
        return Cut(threshold=-np.inf, keep_all=True, available=available)
    (key, above), width = found, _width(column(shards[0]))
    threshold = unsortable(key, width)
    ties = _break_ties(shards, k - above, threshold, column, uid_keys, masks)
    return Cut(threshold=threshold, ties=ties, available=available)


def _finite_keys(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return sortable(values[mask & np.isfinite(values)])


#: what a finder returns: ``((k-th largest key, entries above it) or None when k >= available, available)``
Found = tuple[tuple[int, int] | None, int]


def _width(values: np.ndarray) -> int:
    return 64 if np.asarray(values).dtype == np.float64 else 32


def _in_memory_key(shards: list[str], k: int, column: Column, masks: Mapping[str, np.ndarray]) -> Found:
    keys = np.concatenate([_finite_keys(column(s), masks[s]) for s in shards] or [np.zeros(0, np.uint32)])
    if k >= len(keys):
        return None, len(keys)
    kth = int(np.partition(keys, len(keys) - k)[len(keys) - k])
    return (kth, int((keys > kth).sum())), len(keys)


#: ``(prefix, shift) -> histogram``: counts of ``(key >> shift) & 0xFFFF`` over the finite kept keys whose
#: bits above ``shift + 16`` equal ``prefix`` (all keys when ``shift + 16`` is the key's width)
Histogram = Callable[[int, int], np.ndarray]


def _streaming_key(shards: list[str], k: int, column: Column, masks: Mapping[str, np.ndarray]) -> Found:
    """One histogram pass per 16 bits of key, each inside the boundary bin of the passes before."""
    width = _width(column(shards[0])) if shards else 32

    def histogram(prefix: int, shift: int) -> np.ndarray:
        hist = np.zeros(_BINS, dtype=np.int64)
        for s in shards:
            hist += shard_histogram(_finite_keys(column(s), masks[s]), prefix, shift, width)
        return hist

    return streaming_key(k, width, histogram)


def shard_histogram(keys: np.ndarray, prefix: int, shift: int, width: int) -> np.ndarray:
    """One shard's part of a :data:`Histogram` pass (``keys``: its finite kept keys, uint32 or uint64)."""
    kind = keys.dtype.type  # shifts stay in the key's width
    inside = keys[(keys >> kind(shift + 16)) == kind(prefix)] if shift + 16 < width else keys
    return np.bincount(((inside >> kind(shift)) & kind(0xFFFF)).astype(np.int64), minlength=_BINS)


def streaming_key(k: int, width: int, histogram: Histogram) -> Found:
    """The k-th largest key from merged histograms, one pass per 16 bits of key (``width``: 32 or 64).

    ``histogram`` may sum the shards' parts anywhere (in this process, or as engine tasks): this
    function only merges nothing and walks the boundary bins, so the result is the same either way.
    """
    prefix, above, total = 0, 0, None
    for shift in range(width - 16, -1, -16):
        hist = histogram(prefix, shift)
        if total is None:
            total = int(hist.sum())
            if k >= total:
                return None, total
        bin_, above_here = _boundary(hist, k - above)
        prefix, above = (prefix << 16) | bin_, above + above_here
    return (prefix, above), int(total or 0)


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
    candidates = {}
    for s in shards:
        values = column(s)
        rows = np.flatnonzero(masks[s] & (values == same_precision(values, threshold)))
        if len(rows):
            candidates[s] = (uid_keys(s)[0][rows], rows)
    return choose_ties(shards, candidates, need)


def choose_ties(
    shards: list[str], candidates: Mapping[str, tuple[np.ndarray, np.ndarray]], need: int
) -> dict[str, np.ndarray]:
    """Of the rows tied at the threshold (``candidates``: shard -> (their uid keys, their rows)), the
    ``need`` with the smallest uids (then shard order, then row), as rows per shard."""
    found = [
        (candidates[s][0], np.full(len(candidates[s][1]), i), candidates[s][1])
        for i, s in enumerate(shards)
        if s in candidates
    ]
    keys = np.concatenate([f[0] for f in found])
    owner = np.concatenate([f[1] for f in found])
    rows = np.concatenate([f[2] for f in found])
    chosen = np.lexsort((rows, owner, keys[:, 1], keys[:, 0]))[:need]
    return {shards[i]: np.sort(rows[chosen][owner[chosen] == i]) for i in np.unique(owner[chosen])}
