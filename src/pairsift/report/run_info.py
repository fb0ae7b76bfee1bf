"""What a run directory holds, as the report needs it: score and text columns, orientation, the pool."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pairsift.data import STATUS_COLUMN, UID_COLUMN
from pairsift.errors import ConfigError
from pairsift.io.location import read_parquet_schema
from pairsift.select.tables import ScoreTables

#: The scatter plot's default axes when the run has them (the comparison the paper makes).
PREFERRED_SCATTER = ("clip_score", "neg_clip_loss")


@dataclass
class RunInfo:
    """``scores``: float columns (scores); ``texts``: string columns shown on cards (e.g. a caption)."""

    tables: ScoreTables
    scores: list[str]
    texts: list[str]
    higher: dict[str, bool]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def pool(self) -> str | None:
        pool = self.manifest.get("config", {}).get("pool")
        return str(pool) if pool else None

    @property
    def shards(self) -> list[str]:
        return self.tables.shards

    def higher_is_better(self, column: str) -> bool:
        return self.higher.get(column, True)

    def scatter_axes(self, wanted: tuple[str, str] | None) -> tuple[str, str] | None:
        """The requested pair (checked), else clip_score/neg_clip_loss, else the first two scores."""
        if wanted is not None:
            for name in wanted:
                if name not in self.scores:
                    raise ConfigError(
                        f"--scatter: no score column {name!r}; available: {', '.join(self.scores)}"
                    )
            return wanted
        if all(c in self.scores for c in PREFERRED_SCATTER):
            return PREFERRED_SCATTER
        return (self.scores[0], self.scores[1]) if len(self.scores) >= 2 else None


def read_run_info(run_dir: str) -> RunInfo:
    """The run's score tables (schema from the first one) and ``run.json`` when present."""
    tables = ScoreTables(run_dir)
    schema = read_parquet_schema(next(iter(tables.paths.values())))
    scores, texts = [], []
    for f in schema:
        if f.name in (UID_COLUMN, STATUS_COLUMN):
            continue
        if pa.types.is_floating(f.type):
            scores.append(f.name)
        elif pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            texts.append(f.name)
    manifest = json.loads(tables.run.manifest.read_text()) if tables.run.manifest.exists() else {}
    return RunInfo(tables, scores, texts, tables.higher_is_better(), manifest)
