"""DataComp subset files (METHODS.md §6), and reading any uid list.

A subset file is ``np.save`` of a 1-D structured array of dtype ``np.dtype("u8,u8")``, one row per
kept sample, ``(hi, lo) = divmod(int(uid, 16), 2**64)``, sorted ascending. A uid listed twice means
the sample is written twice (upsampling): readers and ``pairsift uids`` keep every copy a file lists,
but none is added by accident (``select`` writes each uid once; ``score`` marks repeats of a uid). DataComp's
resharder also accepts a raw memmap of the same dtype (no ``.npy`` header); so does :func:`read_subset`.

Every reader of a uid list (``select`` rules, ``reshard --subset``, ``pairsift uids``) goes through
:func:`detect_format`, which looks at the content first, then the name (see its docstring), so a
``.txt`` list is never taken for raw 16-byte rows.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN
from pairsift.errors import InputError
from pairsift.io.fs import publish, write_temporary
from pairsift.io.location import Location, RemotePath, local_copy, output_path
from pairsift.uids import SUBSET_DTYPE, check_uid_type, from_keys, is_sorted, parse_uids, sort_keys, to_hex

logger = logging.getLogger(__name__)

Format = Literal["npy", "raw", "text", "parquet"]
CHUNK = 1 << 20  # uids parsed at a time: bounds the memory taken by string arrays

_NPY_MAGIC = b"\x93NUMPY"
_PARQUET_MAGIC = b"PAR1"
#: complete lines that are blank or one 32-hex uid, with blanks around (what the text reader accepts)
_UID_LINES = re.compile(rb"(?:[ \t\r\f\v]*(?:[0-9A-Fa-f]{32}[ \t\r\f\v]*)?\n)*")
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")
_SCAN = 1 << 20  # bytes scanned at a time when checking for text
_LONGEST_LINE = 4096  # a partial line longer than this is not a uid line


def write_subset(path: str | Path | RemotePath, subset: np.ndarray) -> Location:
    """Write a DataComp subset file atomically (any fsspec URL), sorted ascending, duplicates preserved."""
    write_subset_hashed(path, subset)
    return output_path(path)


def write_subset_hashed(path: str | Path | RemotePath, subset: np.ndarray) -> str:
    """:func:`write_subset`, returning the sha256 of the bytes written (hashed as they are written)."""
    staged, digest = stage_subset(path, subset)
    publish(staged, output_path(path))
    return digest


def stage_subset(path: str | Path | RemotePath, subset: np.ndarray) -> tuple[Path, str]:
    """Write the subset file for ``path`` into a temporary file: ``(that temporary, its sha256)``; the
    caller gives it its name with :func:`~pairsift.io.fs.publish`. A full disk is an
    :class:`OutputError` naming ``path``."""
    if subset.dtype != SUBSET_DTYPE:
        raise ValueError(f"subset arrays have dtype {SUBSET_DTYPE}, got {subset.dtype}")
    ordered = subset if is_sorted(subset) else sort_keys(subset["f0"].copy(), subset["f1"].copy())
    digest = hashlib.sha256()

    def write(fh: IO[bytes]) -> None:
        np.save(_Hashing(fh, digest), ordered, allow_pickle=False)

    return write_temporary(output_path(path), write), digest.hexdigest()


class _Hashing:
    """A write-only file that hashes what goes through it (np.save then writes in chunks)."""

    def __init__(self, fh: IO[bytes], digest: Any) -> None:
        self.fh, self.digest = fh, digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.fh.write(data)


def file_sha256(path: str | Path | RemotePath) -> str:
    """The sha256 of a file (any fsspec URL), read 1 MiB at a time."""
    digest = hashlib.sha256()
    with output_path(path).open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- which format ----------------------------------------------------------------------------
def detect_format(path: str | Path) -> Format:
    """The format of a uid list, from its content first, then its name.

    1. The ``.npy`` header -> ``npy``; ``PAR1`` at both ends -> ``parquet`` (whatever the name).
    2. Named ``.parquet`` or ``.txt`` -> that format (the reader then names what is wrong).
    3. Text (no control bytes) -> ``text``, unless every line is a 32-hex uid or blank *and* the size is
       a multiple of 16: then it is also a valid raw memmap, and that is an error saying how to tell.
    4. Anything else -> ``raw`` when the size is a multiple of 16 (DataComp's header-less memmap), else an
       error.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(max(len(_NPY_MAGIC), len(_PARQUET_MAGIC)))
        fh.seek(max(size - len(_PARQUET_MAGIC), 0))
        tail = fh.read()
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if size >= 2 * len(_PARQUET_MAGIC) and head.startswith(_PARQUET_MAGIC) and tail == _PARQUET_MAGIC:
        return "parquet"
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix == ".txt":
        return "text"
    if size == 0:
        return "raw"  # nothing to tell apart: an empty list either way
    content = _text_content(path)
    raw_size = size % SUBSET_DTYPE.itemsize == 0
    if content == "uids" and raw_size:
        raise InputError(
            f"{path}: cannot tell the format: its {size} bytes are one 32-hex uid per line (a text uid "
            f"list) and also a whole number of 16-byte rows (a raw u8,u8 subset file without a .npy "
            "header). Rename it to .txt if it is a text list; if it is a raw subset file, write it with "
            "np.save (a .npy header), e.g. np.save('subset.npy', np.fromfile(path, 'u8,u8'))"
        )
    if content != "binary":
        return "text"
    if raw_size:
        return "raw"
    raise InputError(
        f"{path}: not a uid list: no .npy header, not parquet, not text, and not a raw u8,u8 memmap "
        f"({size} bytes is not a multiple of {SUBSET_DTYPE.itemsize})"
    )


def _text_content(path: Path) -> Literal["uids", "text", "binary"]:
    """``uids`` when every line is blank or a 32-hex uid; ``text`` for other text; else ``binary``.

    Stops at the first chunk that decides; a file of uids is scanned to the end (at regex speed).
    """
    carry = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_SCAN):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            body, carry = data[:cut], data[cut:]
            if _UID_LINES.fullmatch(body) is None or len(carry) > _LONGEST_LINE:
                return _text_or_binary(data)
    if carry and _UID_LINES.fullmatch(carry + b"\n") is None:
        return _text_or_binary(carry)
    return "uids"


def _text_or_binary(sample: bytes) -> Literal["text", "binary"]:
    if _CONTROL.search(sample):
        return "binary"
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # not just a character cut at the end of the sample
            return "binary"
    return "text"


# --- reading ---------------------------------------------------------------------------------
def read_subset(path: str | Path | RemotePath, *, mmap: bool = False) -> np.ndarray:
    """Read any uid list (subset file ``.npy`` or raw memmap, text, parquet) as a sorted structured array.

    A subset file whose rows are not sorted is sorted in memory, with a warning (DataComp's tools
    expect sorted files; pairsift only needs membership, so the order does not change any result).
    ``mmap=True`` maps ``.npy`` and raw files instead of reading them.
    """
    stored, fmt = read_stored(path, mmap=mmap)
    if is_sorted(stored):
        return stored if mmap else np.asarray(stored)
    if fmt in ("npy", "raw"):
        logger.warning("subset file %s is not sorted; sorting it in memory", path)
    return sort_keys(np.array(stored["f0"]), np.array(stored["f1"]))


def read_stored(path: str | Path | RemotePath, *, mmap: bool = False) -> tuple[np.ndarray, Format]:
    """``(uids in the file's order, format)``: the rows of a uid list as stored, dtype checked (a
    remote file is read from a local copy, :func:`~pairsift.io.location.local_copy`)."""
    if isinstance(path, RemotePath) or "://" in str(path):
        location = output_path(path)
        if isinstance(location, RemotePath) and not location.is_file():
            raise InputError(f"subset file {location}: no such file")
        path = local_copy(location)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"subset file {path}: no such file")
    fmt = detect_format(path)
    if fmt == "npy":
        _check_npy_header(path)
        try:
            subset = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, MemoryError) as exc:
            raise InputError(f"subset file {path}: cannot read: {exc}") from exc
        return _check_dtype(subset, path), fmt
    if fmt == "raw":
        if path.stat().st_size == 0:
            return np.zeros(0, SUBSET_DTYPE), fmt
        return np.memmap(path, dtype=SUBSET_DTYPE, mode="r"), fmt
    chunks = _text_chunks(path) if fmt == "text" else _parquet_chunks(path)
    unit = "line" if fmt == "text" else "row"
    parts = [_parse_chunk(path, unit, positions, values) for positions, values in chunks]
    uids = np.concatenate(parts) if parts else np.zeros(0, SUBSET_DTYPE)
    logger.debug("%s: read %d uids (%s)", path, len(uids), fmt)
    return uids, fmt


def _check_npy_header(path: Path) -> None:
    """Refuse a ``.npy`` header that cannot be parsed, or that declares more data than the file holds
    (numpy would first allocate it all: a 100-byte file could ask for terabytes)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read(fh, max_header_size=10000)
        except Exception as exc:  # numpy raises ValueError, SyntaxError, tokenize errors for bad headers
            raise InputError(f"subset file {path}: not a readable .npy header: {exc}") from exc
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if not dtype.hasobject and declared > size - fh.tell():
            raise InputError(
                f"subset file {path}: the .npy header declares shape {shape} of {dtype} ({declared} bytes) "
                f"but the file holds {size - fh.tell()} bytes after it (truncated?)"
            )


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
    check_uid_type(schema.field(UID_COLUMN).type, str(path), UID_COLUMN)
    start = 0
    for batch in _batches(parquet, path):
        values = batch.column(0).to_pylist()
        yield np.arange(start, start + len(values)), values
        start += len(values)


def _batches(parquet: pq.ParquetFile, path: Path) -> Iterator[pa.RecordBatch]:
    """The ``uid`` column, :data:`CHUNK` rows at a time, checked (e.g. for strings that are not UTF-8)."""
    batches = parquet.iter_batches(batch_size=CHUNK, columns=[UID_COLUMN])
    while True:
        try:
            batch = next(batches, None)
            if batch is None:
                return
            batch.validate(full=True)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{path}: cannot read as parquet: {exc}") from exc
        yield batch


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
    subset: np.ndarray, found_files: Sequence[Location], chunk: int = 1 << 22, examples: int = 10
) -> dict[str, Any]:
    """Distinct subset uids, how many were found in the tars, how many are missing (and the first few).

    Memory: one byte per subset row plus one chunk, whatever the subset size.
    """
    hit = np.zeros(len(subset), dtype=bool)
    for path in found_files:
        source = io.BytesIO(path.read_bytes()) if isinstance(path, RemotePath) else path
        keys = np.load(source, allow_pickle=False).astype(SUBSET_DTYPE)
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
