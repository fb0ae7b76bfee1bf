"""The caption cache (``pairsift caption``, SIEVE's input): one parquet per shard, ``uid``, ``key``,
``status`` and ``captions`` (a list of strings; null where the image could not be decoded). Read by the
SIEVE scorer, written by the caption stage, each file atomically.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import STATUS_COLUMN, UID_COLUMN
from pairsift.io.fs import atomic_write
from pairsift.io.location import Location, read_parquet

CAPTIONS_COLUMN = "captions"


def write_captions(path: Location, table: pa.Table) -> None:
    atomic_write(path, lambda fh: pq.write_table(table, fh, compression="zstd"))


def read_captions(path: Location) -> pa.Table:
    """A cached shard's table (``uid``, ``status``, ``captions``)."""
    return read_parquet(path, columns=[UID_COLUMN, STATUS_COLUMN, CAPTIONS_COLUMN])
