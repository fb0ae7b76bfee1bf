"""Score tables: ``RUN_DIR/scores/<shard>.parquet`` with ``uid``, ``status`` and float32 score columns
(float64 for a metadata column copied in that precision by the ``column`` scorer; string columns for
scorers that also write text, such as SIEVE's best caption)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import STATUS_COLUMN, UID_COLUMN
from pairsift.io.fs import atomic_write


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


def write_score_table(path: Path, table: pa.Table) -> None:
    """Atomically write a score table. Output bytes depend only on the table (no timestamps)."""

    def write(fh: object) -> None:
        pq.write_table(table, fh, compression="zstd", write_statistics=True)

    atomic_write(path, write)


def read_score_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(path, columns=columns)
