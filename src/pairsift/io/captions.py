"""The caption cache (``pairsift caption``, SIEVE's input): one parquet per shard, ``uid``, ``key``,
``status`` and ``captions`` (a list of strings; null where the image could not be decoded). Read by the
SIEVE scorer, written by the caption stage, each file atomically.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import STATUS_COLUMN, UID_COLUMN
from pairsift.io.fs import atomic_write

CAPTIONS_COLUMN = "captions"


def write_captions(path: Path, table: pa.Table) -> None:
    atomic_write(path, lambda fh: pq.write_table(table, fh, compression="zstd"))


def read_captions(path: Path) -> pa.Table:
    """A cached shard's table (``uid``, ``status``, ``captions``)."""
    return pq.read_table(path, columns=[UID_COLUMN, STATUS_COLUMN, CAPTIONS_COLUMN])
