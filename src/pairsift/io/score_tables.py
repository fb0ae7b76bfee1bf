"""Score tables: ``RUN_DIR/scores/<shard>.parquet`` with ``uid``, ``status`` and float32 score columns
(float64 for a metadata column copied in that precision by the ``column`` scorer; string columns for
scorers that also write text, such as SIEVE's best caption)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import STATUS_COLUMN, UID_COLUMN
from pairsift.errors import InputError
from pairsift.io.fs import atomic_write
from pairsift.io.location import Location, parquet_rows, read_parquet, read_parquet_schema


def score_table(uids: np.ndarray, status: np.ndarray, scores: Mapping[str, np.ndarray]) -> pa.Table:
    columns: dict[str, pa.Array] = {
        UID_COLUMN: pa.array(np.asarray(uids, dtype=object), pa.string()),
        STATUS_COLUMN: pa.array(np.asarray(status, dtype=object), pa.string()),
    }
    for name, values in scores.items():
        values = np.asarray(values)
        if values.dtype == object:
            columns[name] = pa.array(values, pa.string())
        elif values.dtype == np.float64:  # a metadata column copied in its own precision (``column``)
            columns[name] = pa.array(values, pa.float64())
        else:
            columns[name] = pa.array(np.asarray(values, dtype=np.float32), pa.float32())
    return pa.table(columns)


def write_score_table(path: Location, table: pa.Table) -> None:
    """Atomically write a score table. Output bytes depend only on the table (no timestamps)."""

    def write(fh: object) -> None:
        pq.write_table(table, fh, compression="zstd", write_statistics=True)

    atomic_write(path, write)


def read_score_table(path: Location, columns: list[str] | None = None) -> pa.Table:
    """The table (or some of its columns); a file pyarrow cannot read, or a missing column, is an
    :class:`InputError` naming the file."""
    if columns is not None:
        names = read_score_schema(path).names
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputError(f"{path}: no column(s) {missing} in this score table; found {names}")
    try:
        table = read_parquet(path, columns=columns)
        table.validate(full=True)  # e.g. strings that are not UTF-8 (parquet does not check)
        return table
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read score table: {_first_line(exc)}") from exc


def read_score_schema(path: Location) -> pa.Schema:
    try:
        return read_parquet_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read score table: {_first_line(exc)}") from exc


def score_table_rows(path: Location) -> int:
    try:
        return parquet_rows(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read score table: {_first_line(exc)}") from exc


def read_score_column(path: Location, name: str) -> np.ndarray:
    """One score column: float64 when stored so (a metadata column copied by the ``column`` scorer),
    float32 otherwise; a column that is not floating point is an error naming the file."""
    column = read_score_table(path, [name]).column(0)
    if not pa.types.is_floating(column.type):
        raise InputError(f"{path}: column {name!r} is {column.type}; a score column must be floating point")
    dtype = np.float64 if pa.types.is_float64(column.type) else np.float32
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=dtype)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().split("\n", 1)[0]
