"""Uids that occur more than once in a pool, found across every score table in bounded memory.

A uid names one sample: in a DataComp subset file a uid listed twice means "train on it twice". So
:func:`mark_duplicates` gives every occurrence of a uid after the first the status ``duplicate_uid``
and NaN scores, in place in the run's score tables. *First* is by shard (the pool's processing order,
sorted names), then row: the result does not depend on the engine or the number of workers, and the
first occurrence inside a shard is the one :meth:`EmbeddingBatch.build` already keeps.

Memory does not grow with the pool. One pass reads the uid column of each table and appends
``(hi, lo, shard, row)`` records (24 bytes each) to bucket files on disk, a uid's bucket chosen by a
hash of its 128 bits, with as many buckets as it takes to keep each under :data:`BUCKET_ROWS` records;
then each bucket is sorted alone. The peak is about one bucket (and one shard's uid column), plus
8 bytes per duplicate row found. The disk needed, in the run's ``.work`` folder, is 24 bytes per row,
removed at the end.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from pairsift.data import DUPLICATE_UID, STATUS_COLUMN, UID_COLUMN
from pairsift.io.location import Location, parquet_rows, read_parquet
from pairsift.io.score_tables import write_score_table
from pairsift.uids import format_uids, parse_uids

logger = logging.getLogger(__name__)

#: the most ``(hi, lo, shard, row)`` records one bucket should hold (24 bytes each: ~100 MB)
BUCKET_ROWS = 1 << 22
#: records gathered in memory before they are appended to the bucket files
FLUSH_ROWS = 1 << 21
EXAMPLES = 10  #: duplicated uids named in the record

RECORD = np.dtype([("hi", "<u8"), ("lo", "<u8"), ("shard", "<u4"), ("row", "<u4")])
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9))


@dataclass
class DuplicateReport:
    """What :func:`mark_duplicates` found: ``rows`` marked ``duplicate_uid`` in all (occurrences after
    the first), of how many distinct ``uids``; ``newly_marked`` by this pass (the others were marked
    within their shard while scoring, or by an earlier pass); the tables rewritten; what was checked."""

    rows: int = 0
    uids: int = 0
    newly_marked: int = 0
    rewritten: list[str] = field(default_factory=list)
    checked_shards: int = 0
    checked_rows: int = 0
    buckets: int = 0
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    #: what one pass did: in the summary, not in ``run.json`` (a resumed run repeats run.json's bytes)
    PER_PASS: ClassVar[tuple[str, ...]] = ("newly_marked", "rewritten", "seconds")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def record(self) -> dict[str, Any]:
        """The fields that depend on the score tables alone (what ``run.json`` keeps)."""
        return {k: v for k, v in asdict(self).items() if k not in self.PER_PASS}


def bucket_bits(rows: int, bucket_rows: int = BUCKET_ROWS) -> int:
    """log2 of the number of buckets that keeps ``rows`` uniformly hashed records under ``bucket_rows``."""
    return max(0, math.ceil(math.log2(max(rows, 1) / bucket_rows))) if rows > bucket_rows else 0


def bucket_of(hi: np.ndarray, lo: np.ndarray, bits: int) -> np.ndarray:
    """The bucket of each uid: the top ``bits`` of a multiplicative hash of both halves (so uids that
    are not random, e.g. small counters, still spread evenly)."""
    if bits == 0:
        return np.zeros(len(hi), dtype=np.int64)
    mixed = (hi * _MIX[0]) ^ lo
    mixed *= _MIX[1]
    return (mixed >> np.uint64(64 - bits)).astype(np.int64)


def mark_duplicates(
    tables: Sequence[Location], workdir: Path, *, bucket_rows: int = BUCKET_ROWS
) -> DuplicateReport:
    """Find the uids that occur more than once over ``tables`` (score tables, in the pool's order) and
    rewrite the tables whose later occurrences are not marked yet. Safe to rerun: the rows to mark
    depend only on the uids, so a pass killed half-way is finished by the next one."""
    start = time.perf_counter()
    report = DuplicateReport(checked_shards=len(tables))
    report.checked_rows = sum(parquet_rows(p) for p in tables)
    bits = bucket_bits(report.checked_rows, bucket_rows)
    report.buckets = 1 << bits
    folder = workdir / "duplicate_uids"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        files = _write_buckets(tables, folder, bits)
        positions = [_duplicates_in(path, report) for path in files]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    found = np.sort(np.concatenate(positions)) if positions else np.zeros(0, np.uint64)
    report.rows = len(found)
    shard_of = (found >> np.uint64(32)).astype(np.int64)
    for index in np.unique(shard_of):
        rows = (found[shard_of == index] & np.uint64(0xFFFFFFFF)).astype(np.int64)
        marked = _mark_rows(tables[index], rows)
        if marked:
            report.newly_marked += marked
            report.rewritten.append(tables[index].stem)
    report.seconds = time.perf_counter() - start
    if report.rows:
        logger.warning(
            "%d rows repeat a uid seen earlier in the pool (%d uids, e.g. %s): marked %s, never selected",
            report.rows,
            report.uids,
            ", ".join(report.examples[:3]),
            DUPLICATE_UID,
        )
    return report


def _write_buckets(tables: Sequence[Location], folder: Path, bits: int) -> list[Path]:
    """Append every well-formed uid's record to its bucket's file; the bucket files."""
    files = [folder / f"{b:05d}.bin" for b in range(1 << bits)]
    for path in files:
        path.touch()
    pending: list[np.ndarray] = []
    size = 0
    for records in _records(tables):
        pending.append(records)
        size += len(records)
        if size >= FLUSH_ROWS:
            _flush(pending, files, bits)
            pending, size = [], 0
    _flush(pending, files, bits)
    return files


def _records(tables: Sequence[Location]) -> Iterator[np.ndarray]:
    """``(hi, lo, shard, row)`` of each table's well-formed uids, table after table."""
    for index, path in enumerate(tables):
        column = read_parquet(path, columns=[UID_COLUMN]).column(0)
        keys, ok = parse_uids(column)
        rows = np.flatnonzero(ok)
        records = np.empty(len(rows), dtype=RECORD)
        records["hi"], records["lo"] = keys[rows, 0], keys[rows, 1]
        records["shard"], records["row"] = index, rows
        yield records


def _flush(pending: list[np.ndarray], files: list[Path], bits: int) -> None:
    if not pending:
        return
    records = np.concatenate(pending)
    bucket = bucket_of(records["hi"], records["lo"], bits)
    order = np.argsort(bucket, kind="stable")
    records, bucket = records[order], bucket[order]
    edges = np.searchsorted(bucket, np.arange(len(files) + 1))
    for b, path in enumerate(files):
        if edges[b + 1] > edges[b]:
            with path.open("ab") as fh:
                records[edges[b] : edges[b + 1]].tofile(fh)


def _duplicates_in(path: Path, report: DuplicateReport) -> np.ndarray:
    """Positions (``shard << 32 | row``) of the occurrences after the first of each uid in one bucket."""
    records = np.fromfile(path, dtype=RECORD)
    path.unlink()
    if len(records) < 2:
        return np.zeros(0, np.uint64)
    position = (records["shard"].astype(np.uint64) << np.uint64(32)) | records["row"].astype(np.uint64)
    order = np.lexsort((position, records["lo"], records["hi"]))
    hi, lo, position = records["hi"][order], records["lo"][order], position[order]
    del records, order
    same = (hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1])
    if not same.any():
        return np.zeros(0, np.uint64)
    firsts = np.flatnonzero(same & ~np.concatenate([[False], same[:-1]]))  # each duplicated uid once
    report.uids += len(firsts)
    if len(report.examples) < EXAMPLES:
        take = firsts[: EXAMPLES - len(report.examples)]
        keys = np.stack([hi[take], lo[take]], axis=1)
        report.examples += [str(u) for u in format_uids(keys)]
    return position[1:][same]


def _mark_rows(path: Location, rows: np.ndarray) -> int:
    """Set ``rows`` of one score table to ``duplicate_uid`` with NaN scores (null texts); the number of
    rows that were not marked already (0: the table is left as it is)."""
    table = read_parquet(path)
    status = np.asarray(table.column(STATUS_COLUMN).to_numpy(zero_copy_only=False), dtype=object)
    new = int((status[rows] != DUPLICATE_UID).sum())
    if not new:
        return 0
    status[rows] = DUPLICATE_UID
    hit = np.zeros(table.num_rows, dtype=bool)
    hit[rows] = True
    columns: dict[str, pa.Array] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name == STATUS_COLUMN:
            columns[name] = pa.array(status, pa.string())
        elif name != UID_COLUMN and (pa.types.is_floating(column.type) or pa.types.is_string(column.type)):
            columns[name] = _blank(column, hit)
        else:
            columns[name] = column.combine_chunks()
    write_score_table(path, pa.table(columns, schema=table.schema))
    return new


def _blank(column: pa.ChunkedArray, hit: np.ndarray) -> pa.Array:
    """``column`` with the ``hit`` rows NaN (floats) or null (strings)."""
    if pa.types.is_floating(column.type):
        values = np.array(column.to_numpy(zero_copy_only=False), copy=True)
        values[hit] = np.nan
        return pa.array(values, column.type)
    values = column.to_pylist()
    return pa.array([None if h else v for v, h in zip(values, hit, strict=True)], column.type)
