"""Uid lists: inspect, convert and combine DataComp subset files (``pairsift uids``, docs/subsets.md).

Formats, chosen by the file name:

- ``.txt`` — one 32-hex uid per line (blank lines are skipped, upper-case digits accepted);
- ``.parquet`` — a ``uid`` string column;
- any other name — a subset file (METHODS.md §6): ``np.save`` of a sorted 1-D ``u8,u8`` structured
  array, or a raw memmap of the same dtype. Subset files are always written as ``.npy``, sorted.

A uid listed twice means the sample is written twice (upsampling), so duplicates are kept in every
conversion. Set operations use multiset semantics, like :class:`collections.Counter`: ``union`` keeps
each uid as many times as the input listing it most, ``intersect`` as many times as the input listing
it least, and ``diff A B ...`` its count in ``A`` minus its counts in all the others, floored at 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN
from pairsift.errors import InputError
from pairsift.io.fs import atomic_write
from pairsift.io.subsets import count_in, read_subset, write_subset
from pairsift.uids import SUBSET_DTYPE, from_keys, is_sorted, parse_uids, sort_uids, to_hex

logger = logging.getLogger(__name__)

Format = Literal["npy", "raw", "text", "parquet"]
OUTPUT_FORMATS: dict[str, Format] = {".npy": "npy", ".txt": "text", ".parquet": "parquet"}
CHUNK = 1 << 20  # uids parsed or formatted at a time: bounds the memory taken by string arrays
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
def detect_format(path: str | Path) -> Format:
    """``text`` for ``.txt``, ``parquet`` for ``.parquet``, else ``npy`` or ``raw`` from the header."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".txt", ".parquet"):
        return OUTPUT_FORMATS[suffix]
    magic = np.lib.format.MAGIC_PREFIX
    with path.open("rb") as fh:
        return "npy" if fh.read(len(magic)) == magic else "raw"


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
    path = Path(path)
    fmt = detect_format(path)
    if fmt in ("npy", "raw"):
        return read_subset(path), fmt
    chunks = _text_chunks(path) if fmt == "text" else _parquet_chunks(path)
    unit = "line" if fmt == "text" else "row"
    parts = [_parse_chunk(path, unit, positions, values) for positions, values in chunks]
    uids = np.concatenate(parts) if parts else np.zeros(0, SUBSET_DTYPE)
    logger.debug("%s: read %d uids (%s)", path, len(uids), fmt)
    return uids, fmt


def read_uids(path: str | Path) -> np.ndarray:
    """Any supported file -> sorted structured ``u8,u8`` array, duplicates kept."""
    return sort_uids(load_uids(path)[0])


def _text_chunks(path: Path) -> Iterator[tuple[np.ndarray, list[str]]]:
    """``(1-based line numbers, uids)`` of the non-blank lines, :data:`CHUNK` lines at a time."""
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        done = 0
        while lines := list(islice(fh, CHUNK)):
            stripped = [line.strip() for line in lines]
            keep = [i for i, s in enumerate(stripped) if s]
            yield done + 1 + np.asarray(keep, dtype=np.int64), [stripped[i] for i in keep]
            done += len(lines)


def _parquet_chunks(path: Path) -> Iterator[tuple[np.ndarray, list[str | None]]]:
    """``(0-based row numbers, uids)`` of the ``uid`` column, :data:`CHUNK` rows at a time."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read as parquet: {exc}") from exc
    schema = parquet.schema_arrow
    if UID_COLUMN not in schema.names:
        raise InputError(f"{path}: no '{UID_COLUMN}' column; found {schema.names}")
    kind = schema.field(UID_COLUMN).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise InputError(f"{path}: column '{UID_COLUMN}' has type {kind}, expected string")
    start = 0
    for batch in parquet.iter_batches(batch_size=CHUNK, columns=[UID_COLUMN]):
        values = batch.column(0).to_pylist()
        yield np.arange(start, start + len(values)), values
        start += len(values)


def _parse_chunk(path: Path, unit: str, positions: np.ndarray, values: Sequence[str | None]) -> np.ndarray:
    # clipped to 33 characters (still too long if longer than 32) so one huge line cannot blow up
    # the fixed-width string array parse_uids builds; None (a null parquet cell) becomes "" (malformed)
    clipped = np.asarray([v[:33] if isinstance(v, str) else "" for v in values], dtype=object)
    keys, ok = parse_uids(clipped)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        found = repr(values[bad])
        found = found if len(found) <= 60 else found[:57] + "..."
        raise InputError(f"{path}: {unit} {positions[bad]}: expected a 32-hex uid, found {found}")
    return from_keys(keys)


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
    fmt = detect_format(path)
    if fmt in ("npy", "raw"):
        uids = read_subset(path, mmap=True)  # checks the dtype; sorted in memory if the file is not
        stored_sorted = is_sorted(_stored_subset(path, fmt))
    else:
        stored, _ = load_uids(path)
        stored_sorted = is_sorted(stored)
        uids = sort_uids(stored)
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


def _stored_subset(path: Path, fmt: Format) -> np.ndarray:
    """The rows of a subset file in stored order (dtype already checked by read_subset)."""
    if fmt == "npy":
        return np.load(path, mmap_mode="r", allow_pickle=False)
    if path.stat().st_size == 0:
        return np.zeros(0, SUBSET_DTYPE)
    return np.memmap(path, dtype=SUBSET_DTYPE, mode="r")


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
