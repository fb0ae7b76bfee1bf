"""DataComp subset files (METHODS.md §6).

A subset file is ``np.save`` of a 1-D structured array of dtype ``np.dtype("u8,u8")``, one row per
kept sample, ``(hi, lo) = divmod(int(uid, 16), 2**64)``, sorted ascending. A uid listed twice means
the sample is written twice (upsampling): duplicates are kept everywhere in pairsift. DataComp's
resharder also accepts a raw memmap of the same dtype (no ``.npy`` header); so does :func:`read_subset`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from pairsift.errors import InputError
from pairsift.io.fs import atomic_write
from pairsift.uids import SUBSET_DTYPE, from_keys, is_sorted, sort_keys, to_hex

logger = logging.getLogger(__name__)

_NPY_MAGIC = b"\x93NUMPY"


def write_subset(path: str | Path, subset: np.ndarray) -> Path:
    """Write a DataComp subset file atomically, sorted ascending, duplicates preserved."""
    if subset.dtype != SUBSET_DTYPE:
        raise ValueError(f"subset arrays have dtype {SUBSET_DTYPE}, got {subset.dtype}")
    ordered = subset if is_sorted(subset) else sort_keys(subset["f0"].copy(), subset["f1"].copy())
    path = Path(path)
    atomic_write(path, lambda fh: np.save(fh, ordered, allow_pickle=False))
    return path


def read_subset(path: str | Path, *, mmap: bool = False) -> np.ndarray:
    """Read a subset file (``.npy`` or raw ``u8,u8`` memmap) as a sorted structured array.

    A file whose rows are not sorted is sorted in memory, with a warning (DataComp's tools expect
    sorted files; pairsift only needs membership, so the order does not change any result).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"subset file {path}: no such file")
    with path.open("rb") as fh:
        header = fh.read(len(_NPY_MAGIC))
    if header == _NPY_MAGIC:
        try:
            subset = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"subset file {path}: cannot read: {exc}") from exc
    else:
        size = path.stat().st_size
        if size % SUBSET_DTYPE.itemsize:
            raise InputError(
                f"subset file {path}: neither a .npy file nor a raw u8,u8 memmap "
                f"({size} bytes is not a multiple of {SUBSET_DTYPE.itemsize})"
            )
        subset = np.memmap(path, dtype=SUBSET_DTYPE, mode="r") if size else np.zeros(0, SUBSET_DTYPE)
    subset = _check_dtype(subset, path)
    if not is_sorted(subset):
        logger.warning("subset file %s is not sorted; sorting it in memory", path)
        return sort_keys(np.array(subset["f0"]), np.array(subset["f1"]))
    return subset if mmap else np.asarray(subset)


def _check_dtype(subset: np.ndarray, path: Path) -> np.ndarray:
    names = subset.dtype.names or ()
    ok = subset.ndim == 1 and len(names) == 2 and all(subset.dtype[n] == np.uint64 for n in names)
    if not ok:
        raise InputError(
            f"subset file {path}: expected a 1-D array of dtype {SUBSET_DTYPE} (uid hi, lo), "
            f"found dtype {subset.dtype} with shape {subset.shape}"
        )

    if names != SUBSET_DTYPE.names:  # same layout under other field names: view with DataComp's
        return subset.view(SUBSET_DTYPE)
    return subset


class SubsetIndex:
    """A sorted subset prepared for many lookups (build it once, then query shard after shard).

    Holds the uids as 16-byte big-endian strings, whose byte order is the (hi, lo) order: numpy
    searches those about 6x faster than the structured dtype. (numpy treats trailing zero bytes as
    padding, which keeps that order: a shorter string sorts first, as a zero byte does.)
    16 bytes per uid of the subset.
    """

    def __init__(self, subset: np.ndarray) -> None:
        self.haystack = _sortable_bytes(subset)

    def __len__(self) -> int:
        return len(self.haystack)

    def count(self, query: np.ndarray) -> np.ndarray:
        """How many times each uid of the structured ``query`` is listed in the subset."""
        needles = _sortable_bytes(query)
        return np.searchsorted(self.haystack, needles, "right") - np.searchsorted(
            self.haystack, needles, "left"
        )

    def count_keys(self, keys: np.ndarray) -> np.ndarray:
        """The same for ``(n, 2)`` uint64 keys."""
        return self.count(from_keys(keys))

    def contains_keys(self, keys: np.ndarray) -> np.ndarray:
        return self.count_keys(keys) > 0


def contains(subset: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Membership of ``(n, 2)`` keys in a sorted subset (one-off; use :class:`SubsetIndex` for many)."""
    return SubsetIndex(subset).contains_keys(keys)


def occurrences(subset: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """How many times each of the ``(n, 2)`` keys is listed in a sorted subset (upsampling factor)."""
    return SubsetIndex(subset).count_keys(keys)


def count_in(subset: np.ndarray, query: np.ndarray) -> np.ndarray:
    """How many times each uid of the structured ``query`` is listed in the sorted ``subset``."""
    return SubsetIndex(subset).count(query)


_BIG_ENDIAN = np.dtype([("f0", ">u8"), ("f1", ">u8")])


def _sortable_bytes(subset: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(subset).astype(_BIG_ENDIAN)).view("S16")


def coverage(
    subset: np.ndarray, found_files: list[Path], chunk: int = 1 << 22, examples: int = 10
) -> dict[str, Any]:
    """Distinct subset uids, how many were found in the tars, how many are missing (and the first few).

    Memory: one byte per subset row plus one chunk, whatever the subset size.
    """
    hit = np.zeros(len(subset), dtype=bool)
    for path in found_files:
        keys = np.load(path, allow_pickle=False).astype(SUBSET_DTYPE)
        where = np.searchsorted(subset, keys, "left")
        inside = where < len(subset)
        where, keys = where[inside], keys[inside]
        hit[where[np.asarray(subset[where]) == keys]] = True
    distinct = found = 0
    missing_examples: list[str] = []
    for start in range(0, len(subset), chunk):
        rows = np.asarray(subset[max(start - 1, 0) : start + chunk])
        first = np.ones(len(rows), dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        if start:
            first = first[1:]
        positions = np.flatnonzero(first) + start
        distinct += len(positions)
        found += int(hit[positions].sum())
        if len(missing_examples) < examples:
            missing = positions[~hit[positions]][: examples - len(missing_examples)]
            missing_examples += [str(u) for u in to_hex(np.asarray(subset[missing]))]
    return {
        "subset_rows": len(subset),
        "subset_uids": distinct,
        "found_uids": found,
        "missing_uids": distinct - found,
        "missing_examples": missing_examples,
    }
