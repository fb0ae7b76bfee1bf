"""``image_size``: the image's smaller side and aspect ratio from the metadata parquet's
``original_width`` and ``original_height`` (DataComp's basic filter keeps a smaller side >= 200 and an
aspect ratio max/min <= 3).

Writes ``image_size`` (min(width, height)) and ``image_size_aspect`` (max / min), both float64 as DataComp
computes them. A missing (null) size gives NaN in both, which no threshold keeps, as in DataComp; a zero
side gives an infinite (or, for 0 x 0, NaN) aspect ratio.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pairsift.data import EmbeddingBatch, metadata_column
from pairsift.device import Compute
from pairsift.scorers.base import Scorer, register


@register("image_size")
class ImageSize(Scorer):
    """Smaller side and max/min aspect ratio of the original image, from two metadata columns."""

    def __init__(
        self, *, width: str = "original_width", height: str = "original_height", name: str | None = None
    ) -> None:
        super().__init__(name=name)
        self.width, self.height = str(width), str(height)

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "width": self.width, "height": self.height}

    def inputs(self) -> frozenset[str]:
        return frozenset({metadata_column(self.width), metadata_column(self.height)})

    def output_columns(self) -> tuple[str, ...]:
        return (self.column, f"{self.column}_aspect")

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        return self.score_columns(batch, compute, seed=seed)[self.column][valid]

    def score_columns(
        self, batch: EmbeddingBatch, compute: Compute, *, seed: int = 0
    ) -> dict[str, np.ndarray]:
        width = np.asarray(batch.columns[self.width], dtype=np.float64)
        height = np.asarray(batch.columns[self.height], dtype=np.float64)
        small, large = np.minimum(width, height), np.maximum(width, height)
        with np.errstate(divide="ignore", invalid="ignore"):
            aspect = large / small
        small = np.where(batch.uid_ok, small, np.nan)
        aspect = np.where(batch.uid_ok, aspect, np.nan)
        return {self.column: small, f"{self.column}_aspect": aspect}
