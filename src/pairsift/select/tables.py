"""Read access to a run's score tables, one column of one shard at a time, and whether every shard of
the run's pool has one."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pairsift.data import STATUS_COLUMN, UID_COLUMN
from pairsift.errors import InputError
from pairsift.io.location import Location
from pairsift.io.run_dir import RunDir
from pairsift.io.score_tables import read_score_column, read_score_schema, read_score_table, score_table_rows
from pairsift.io.sources import SourceConfig, open_source
from pairsift.registry import UnknownNameError
from pairsift.uids import parse_uids

logger = logging.getLogger(__name__)

#: missing shards named in an error before "and N more"
NAMED = 5


@dataclass(frozen=True)
class Completeness:
    """Which shards of the run's pool have a score table.

    ``pool_shards`` is None (and ``problem`` says why) when the pool's shard list could not be read.
    """

    run: str
    scored: int
    pool_shards: int | None
    missing: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def partial(self) -> bool:
        """True unless every shard of the pool is known to have its table."""
        return self.pool_shards is None or bool(self.missing)

    def to_dict(self) -> dict[str, Any]:
        return {
            "partial": self.partial,
            "pool_shards": self.pool_shards,
            "missing_shards": None if self.pool_shards is None else len(self.missing),
            "missing_examples": list(self.missing[:NAMED]),
        }

    def describe(self) -> str:
        """Why selecting now would be partial (for the error and the warning)."""
        if self.pool_shards is None:
            return f"{self.run}: cannot check that every shard of the pool has a score table: {self.problem}"
        named = ", ".join(self.missing[:NAMED])
        more = f" and {len(self.missing) - NAMED} more" if len(self.missing) > NAMED else ""
        return (
            f"{self.run}: the run is unfinished: {len(self.missing)} of the pool's {self.pool_shards} shards "
            f"have no score table ({named}{more}); rerun the same `pairsift score` to finish it"
        )


class ScoreTables:
    """The score tables of a run directory. Nothing is cached but row counts and the schema."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run = RunDir(run_dir)
        if not self.run.scores.is_dir():
            raise InputError(
                f"{run_dir}: not a run directory (no scores/ folder); run `pairsift score` first"
            )
        found: list[Location] = list(self.run.scores.glob("*.parquet"))
        self.paths = {p.stem: p for p in sorted(found, key=lambda p: p.name)}
        if not self.paths:
            raise InputError(f"{self.run.scores}: no score tables")

    @property
    def shards(self) -> list[str]:
        return list(self.paths)

    @cached_property
    def rows(self) -> dict[str, int]:
        return {s: score_table_rows(p) for s, p in self.paths.items()}

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    @cached_property
    def columns(self) -> list[str]:
        """Score columns (the numeric columns but uid and status), from the first table's schema."""
        schema = read_score_schema(next(iter(self.paths.values())))
        return [
            f.name
            for f in schema
            if f.name not in (UID_COLUMN, STATUS_COLUMN) and pa.types.is_floating(f.type)
        ]

    @cached_property
    def text_columns(self) -> list[str]:
        """String columns beside the scores (e.g. SIEVE's best caption): shown, never selected on."""
        schema = read_score_schema(next(iter(self.paths.values())))
        return [
            f.name for f in schema if f.name not in (UID_COLUMN, STATUS_COLUMN) and pa.types.is_string(f.type)
        ]

    def higher_is_better(self) -> dict[str, bool]:
        """From run.json when present (every column defaults to higher-is-better)."""
        scorers = self.run.read_manifest().get("scorers", [])
        return {s["column"]: bool(s.get("higher_is_better", True)) for s in scorers}

    def completeness(self) -> Completeness:
        """Compare the score tables with the shards of the pool that ``run.json`` records."""
        try:
            expected = self._pool_shards()
        except (InputError, OSError, UnknownNameError) as exc:
            return Completeness(str(self.run.path), len(self.paths), None, problem=str(exc))
        missing = tuple(s for s in expected if s not in self.paths)
        extra = [s for s in self.paths if s not in set(expected)]
        if extra:
            logger.warning(
                "%s: %d score table(s) for shards the pool no longer holds (%s)",
                self.run.path,
                len(extra),
                ", ".join(extra[:NAMED]),
            )
        return Completeness(str(self.run.path), len(self.paths), len(expected), missing)

    def _pool_shards(self) -> list[str]:
        """The shard names of the pool recorded in run.json (``config.pool``, ``embeddings``, ``source``)."""
        if not self.run.manifest.exists():
            raise InputError(f"{self.run.manifest} is missing, so the run's pool is unknown")
        config = self.run.read_manifest().get("config") or {}
        pool = config.get("pool")
        if not pool:
            raise InputError(f"{self.run.manifest} does not record the pool (config.pool)")
        known = {f.name for f in dataclasses.fields(SourceConfig)}
        source = SourceConfig(**{k: v for k, v in (config.get("source") or {}).items() if k in known})
        try:
            return list(open_source(str(pool), str(config.get("embeddings", "l14")), source).shards())
        except (InputError, OSError, UnknownNameError) as exc:
            raise InputError(
                f"the pool {pool} (recorded in {self.run.manifest}) cannot be listed: {exc}"
            ) from exc

    def check_column(self, name: str, extra: tuple[str, ...] = ()) -> None:
        if name in self.text_columns:
            raise InputError(
                f"column {name!r} holds text, not scores; score columns: {', '.join(self.columns)}"
            )
        if name not in self.columns and name not in extra:
            available = ", ".join([*self.columns, *extra])
            raise InputError(f"unknown score column {name!r}; available: {available}")

    def column(self, shard: str, name: str) -> np.ndarray:
        """One float column of one shard: float64 when stored so (a metadata column copied by the
        ``column`` scorer, e.g. DataComp's similarity scores), float32 otherwise."""
        return read_score_column(self.paths[shard], name)

    def uid_keys(self, shard: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``((n, 2) uint64 uid keys, well-formed mask)`` of one shard, or of the masked ``rows``."""
        column = read_score_table(self.paths[shard], [UID_COLUMN]).column(0)
        if rows is not None:
            column = column.filter(pa.array(rows))
        return parse_uids(column)
