"""Uid lists: inspect, convert and combine DataComp subset files (``pairsift uids``, docs/subsets.md).

Formats, told apart by their content first and their name second (:func:`detect_format`):

- ``.npy`` — a subset file (METHODS.md §6): ``np.save`` of a sorted 1-D ``u8,u8`` structured array;
- ``raw`` — the same rows without the ``.npy`` header (DataComp's memmap), for binary content only;
- ``text`` — one 32-hex uid per line (blank lines are skipped, upper-case digits accepted);
- ``parquet`` — a ``uid`` string column.

Subset files are always written as ``.npy``, sorted. Reading lives in :mod:`pairsift.io.subsets`, so
``select`` rules and ``reshard`` read every format the same way.

A uid listed twice means the sample is written twice (upsampling), so duplicates are kept in every
conversion. Set operations use multiset semantics, like :class:`collections.Counter`: ``union`` keeps
each uid as many times as the input listing it most, ``intersect`` as many times as the input listing
it least, and ``diff A B ...`` its count in ``A`` minus its counts in all the others, floored at 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN
from pairsift.errors import InputError
from pairsift.io.fs import atomic_write
from pairsift.io.subsets import CHUNK, Format, count_in, detect_format, read_stored, read_subset, write_subset
from pairsift.uids import is_sorted, sort_uids, to_hex

logger = logging.getLogger(__name__)

__all__ = [
    "Format",
    "combine_files",
    "convert",
    "detect_format",
    "info",
    "load_uids",
    "read_uids",
    "write_uids",
]

OUTPUT_FORMATS: dict[str, Format] = {".npy": "npy", ".txt": "text", ".parquet": "parquet"}
_UID_SCHEMA = pa.schema([(UID_COLUMN, pa.string())])


# --- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubsetInfo:
    """What :func:`info` reports about one file."""

    path: str
    format: Format
    count: int  # rows, duplicates included
    distinct: int  # different uids
    duplicated: int  # uids listed more than once
    extra_copies: int  # rows beyond the first of each uid: count - distinct
    max_copies: int  # the most times one uid is listed (0 for an empty file)
    sorted: bool  # rows ascending by (hi, lo) as stored in the file
    first_uid: str | None  # smallest uid (the first once sorted); None for an empty file
    last_uid: str | None  # largest uid

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ConvertResult:
    source: str
    source_format: Format
    output: str
    output_format: Format
    count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SetResult:
    operation: str
    inputs: list[str]
    input_counts: list[int]
    output: str
    output_format: Format
    count: int
    distinct: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- formats ---------------------------------------------------------------------------------
def output_format(path: str | Path) -> Format:
    """The format written to ``path``, from its suffix (``.npy``, ``.txt`` or ``.parquet``)."""
    fmt = OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: cannot tell the output format from the name; use {', '.join(OUTPUT_FORMATS)}"
        )
    return fmt


# --- reading ---------------------------------------------------------------------------------
def load_uids(path: str | Path) -> tuple[np.ndarray, Format]:
    """``(uids, format)``: text and parquet rows in file order; subset files sorted (as read_subset)."""
    stored, fmt = read_stored(path)
    if fmt in ("npy", "raw"):
        return read_subset(path), fmt
    return stored, fmt


def read_uids(path: str | Path) -> np.ndarray:
    """Any supported file -> sorted structured ``u8,u8`` array, duplicates kept."""
    return sort_uids(load_uids(path)[0])


# --- writing ---------------------------------------------------------------------------------
def write_uids(path: str | Path, uids: np.ndarray) -> Format:
    """Write atomically in the format named by the suffix; ``.npy`` output is sorted, others keep order."""
    fmt = output_format(path)
    if fmt == "npy":
        write_subset(path, sort_uids(uids))
    elif fmt == "text":
        atomic_write(path, lambda fh: _write_text(fh, uids))
    else:
        atomic_write(path, lambda fh: _write_parquet(fh, uids))
    logger.debug("%s: wrote %d uids (%s)", path, len(uids), fmt)
    return fmt


def _write_text(fh: IO[bytes], uids: np.ndarray) -> None:
    for start in range(0, len(uids), CHUNK):
        fh.write(("\n".join(to_hex(uids[start : start + CHUNK])) + "\n").encode("ascii"))


def _write_parquet(fh: IO[bytes], uids: np.ndarray) -> None:
    with pq.ParquetWriter(fh, _UID_SCHEMA) as writer:
        for start in range(0, len(uids), CHUNK):
            column = pa.array(to_hex(uids[start : start + CHUNK]), type=pa.string())
            writer.write_table(pa.Table.from_arrays([column], schema=_UID_SCHEMA))


# --- info and convert ------------------------------------------------------------------------
def info(path: str | Path) -> SubsetInfo:
    """Counts, duplicates, sortedness (as stored), format and uid range of one file."""
    path = Path(path)
    stored, fmt = read_stored(path, mmap=True)  # checks the dtype
    stored_sorted = is_sorted(stored)
    uids = stored if stored_sorted else sort_uids(np.asarray(stored))
    distinct, counts = tally(uids)
    first, last = (str(h) for h in to_hex(uids[[0, -1]])) if len(uids) else (None, None)
    return SubsetInfo(
        path=str(path),
        format=fmt,
        count=len(uids),
        distinct=len(distinct),
        duplicated=int((counts > 1).sum()),
        extra_copies=len(uids) - len(distinct),
        max_copies=int(counts.max()) if len(counts) else 0,
        sorted=stored_sorted,
        first_uid=first,
        last_uid=last,
    )


def convert(source: str | Path, output: str | Path) -> ConvertResult:
    """Rewrite a uid list in the format named by ``output``'s suffix; duplicates kept, ``.npy`` sorted."""
    out_fmt = output_format(output)
    uids, fmt = load_uids(source)
    write_uids(output, uids)
    logger.info("%s (%s) -> %s (%s): %d uids", source, fmt, output, out_fmt, len(uids))
    return ConvertResult(str(source), fmt, str(output), out_fmt, len(uids))


# --- multiset operations: inputs in any order (sorted here if needed), output sorted ----------
def tally(uids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(distinct uids, counts)`` of a sorted array, in order."""
    starts = _run_starts(uids)
    return np.asarray(uids[starts]), np.diff(np.append(starts, len(uids)))


def _run_starts(uids: np.ndarray) -> np.ndarray:
    """Index of the first row of each run of equal uids in a sorted array."""
    if len(uids) == 0:
        return np.zeros(0, np.int64)
    hi, lo = uids["f0"], uids["f1"]
    return np.flatnonzero(np.concatenate([[True], (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])]))


def intersect(subsets: Iterable[np.ndarray]) -> np.ndarray:
    """Each uid as many times as the input that lists it least (0 if one input lacks it); sorted."""
    return _fold(subsets, lambda u, c, other: np.minimum(c, count_in(other, u)))


def diff(subsets: Iterable[np.ndarray]) -> np.ndarray:
    """Each uid of the first input, its count minus its counts in all the others, floored at 0; sorted."""
    return _fold(subsets, lambda u, c, other: c - count_in(other, u))


def union(subsets: Iterable[np.ndarray]) -> np.ndarray:
    """Each uid as many times as the input that lists it most; sorted."""
    distinct: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for subset in subsets:
        u, c = tally(sort_uids(subset))
        distinct.append(u)
        counts.append(c)
    if not distinct:
        raise ValueError("union of no subsets")
    both, n = np.concatenate(distinct), np.concatenate(counts)
    order = np.lexsort((both["f1"], both["f0"]))
    both, n = both[order], n[order]
    starts = _run_starts(both)
    return np.repeat(both[starts], np.maximum.reduceat(n, starts) if len(n) else n)


OPERATIONS: dict[str, Callable[[Iterable[np.ndarray]], np.ndarray]] = {
    "intersect": intersect,
    "union": union,
    "diff": diff,
}


def _fold(
    subsets: Iterable[np.ndarray], step: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Tally the first subset, then update its counts against each other one in turn."""
    it = iter(subsets)
    first = next(it, None)
    if first is None:
        raise ValueError("set operation over no subsets")
    u, c = tally(sort_uids(first))
    for other in it:
        c = step(u, c, sort_uids(other))
        keep = c > 0
        u, c = u[keep], c[keep]
    return np.repeat(u, c)


# --- on files --------------------------------------------------------------------------------
def combine_files(operation: str, inputs: Sequence[str | Path], output: str | Path) -> SetResult:
    """Apply ``intersect``, ``union`` or ``diff`` to the uid lists in ``inputs``; write ``output``."""
    if operation not in OPERATIONS:
        raise InputError(f"unknown set operation {operation!r}; available: {', '.join(OPERATIONS)}")
    out_fmt = output_format(output)  # fail before reading anything
    sizes: list[int] = []

    def load() -> Iterator[np.ndarray]:
        for path in inputs:
            uids = read_uids(path)
            logger.info("%s: %d uids", path, len(uids))
            sizes.append(len(uids))
            yield uids

    result = OPERATIONS[operation](load())
    write_uids(output, result)
    distinct = len(tally(result)[0])
    logger.info("%s -> %s: %d uids (%d distinct)", operation, output, len(result), distinct)
    return SetResult(operation, [str(p) for p in inputs], sizes, str(output), out_fmt, len(result), distinct)
