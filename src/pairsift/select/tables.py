"""Read access to a run's score tables, one column of one shard at a time."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import STATUS_COLUMN, UID_COLUMN
from pairsift.errors import InputError
from pairsift.io.run_dir import RunDir
from pairsift.uids import parse_uids


class ScoreTables:
    """The score tables of a run directory. Nothing is cached but row counts and the schema."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run = RunDir(run_dir)
        if not self.run.scores.is_dir():
            raise InputError(
                f"{run_dir}: not a run directory (no scores/ folder); run `pairsift score` first"
            )
        self.paths = {p.stem: p for p in sorted(self.run.scores.glob("*.parquet"))}
        if not self.paths:
            raise InputError(f"{self.run.scores}: no score tables")

    @property
    def shards(self) -> list[str]:
        return list(self.paths)

    @cached_property
    def rows(self) -> dict[str, int]:
        return {s: pq.ParquetFile(p).metadata.num_rows for s, p in self.paths.items()}

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    @cached_property
    def columns(self) -> list[str]:
        """Score columns (the numeric columns but uid and status), from the first table's schema."""
        schema = pq.read_schema(next(iter(self.paths.values())))
        return [
            f.name
            for f in schema
            if f.name not in (UID_COLUMN, STATUS_COLUMN) and pa.types.is_floating(f.type)
        ]

    @cached_property
    def text_columns(self) -> list[str]:
        """String columns beside the scores (e.g. SIEVE's best caption): shown, never selected on."""
        schema = pq.read_schema(next(iter(self.paths.values())))
        return [
            f.name for f in schema if f.name not in (UID_COLUMN, STATUS_COLUMN) and pa.types.is_string(f.type)
        ]

    def higher_is_better(self) -> dict[str, bool]:
        """From run.json when present (every column defaults to higher-is-better)."""
        if not self.run.manifest.exists():
            return {}
        scorers = json.loads(self.run.manifest.read_text()).get("scorers", [])
        return {s["column"]: bool(s.get("higher_is_better", True)) for s in scorers}

    def check_column(self, name: str, extra: tuple[str, ...] = ()) -> None:
        if name in self.text_columns:
            raise InputError(
                f"column {name!r} holds text, not scores; score columns: {', '.join(self.columns)}"
            )
        if name not in self.columns and name not in extra:
            available = ", ".join([*self.columns, *extra])
            raise InputError(f"unknown score column {name!r}; available: {available}")

    def column(self, shard: str, name: str) -> np.ndarray:
        """One float column of one shard as float32."""
        table = pq.read_table(self.paths[shard], columns=[name])
        return np.asarray(table.column(0).to_numpy(zero_copy_only=False), dtype=np.float32)

    def uid_keys(self, shard: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``((n, 2) uint64 uid keys, well-formed mask)`` of one shard, or of the masked ``rows``."""
        column = pq.read_table(self.paths[shard], columns=[UID_COLUMN]).column(0)
        if rows is not None:
            column = column.filter(pa.array(rows))
        return parse_uids(column)
