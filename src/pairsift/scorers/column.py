"""A column of the pool's metadata as a score: DataComp's precomputed ``clip_l14_similarity_score`` and
``clip_b32_similarity_score`` (the numbers DataComp's own ``clip_score`` baseline thresholds), or any other
numeric column.

The values are copied as they are, in their own precision (DataComp's are float64), so that a threshold
on them cuts exactly where DataComp's baseline cuts. Rows whose uid is malformed or repeated, and null
values, get NaN. No embedding is read: a metadata folder without npz files can be scored.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pairsift.data import EmbeddingBatch, metadata_column
from pairsift.device import Compute
from pairsift.scorers.base import Scorer, register


@register("column")
class Column(Scorer):
    """A numeric column of the pool's parquet, copied in its own precision (default name: the column's)."""

    def __init__(self, *, column: str, higher_is_better: Any = True, name: str | None = None) -> None:
        super().__init__(name=name)
        if not str(column).strip():
            raise ValueError("column must name a column of the pool's parquet files")
        self.source_column = str(column)
        if not isinstance(higher_is_better, bool):
            raise ValueError(f"higher_is_better must be true or false, got {higher_is_better!r}")
        self.higher = higher_is_better

    @property
    def higher_is_better(self) -> bool:  # type: ignore[override]  # an instance decides (a distance: False)
        return self.higher

    def default_column(self) -> str:
        return self.source_column

    def inputs(self) -> frozenset[str]:
        return frozenset({metadata_column(self.source_column)})

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "column": self.source_column, "higher_is_better": self.higher}

    def score(self, batch: EmbeddingBatch, compute: Compute, *, seed: int = 0) -> np.ndarray:
        values = batch.columns[self.source_column]
        return np.where(batch.uid_ok, values, np.nan).astype(values.dtype, copy=False)

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        return batch.columns[self.source_column][valid]
