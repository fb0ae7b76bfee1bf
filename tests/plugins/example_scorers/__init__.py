"""A test-only plugin: a real scorer defined outside pairsift, registered through the public API.

``text_norm_gap = scale · (1 − f_i · g_i)`` on float32-renormalised embeddings: 0 for a perfectly
aligned pair, up to ``2 · scale`` for opposite ones (lower is better). ``scale`` travels to workers by
value (pickled); ``setup`` derives ``scale_``, which is not pickled, so a worker that did not run
``setup`` fails instead of scoring with a stale value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pairsift.data import EmbeddingBatch, select_rows
from pairsift.device import Compute
from pairsift.params import float_param
from pairsift.scorers import Scorer, register

COLUMN = "text_norm_gap"


@register(COLUMN)
class NormGap(Scorer):
    """``scale · (1 − f_i · g_i)``: how far a pair's image and text embeddings are apart."""

    requires = frozenset({"image", "text"})
    higher_is_better = False

    def __init__(self, *, scale: Any = 1.0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.scale = float_param("scale", scale, low=0.0)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "scale": self.scale}

    def setup(self, compute: Compute, *, family: str) -> None:
        self.scale_ = np.float32(self.scale)

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        assert batch.image is not None and batch.text is not None
        f = select_rows(batch.image, valid).astype(np.float32, copy=False)
        g = select_rows(batch.text, valid).astype(np.float32, copy=False)
        own = np.einsum("ij,ij->i", f, g, dtype=np.float32)
        return (self.scale_ * (np.float32(1.0) - own)).astype(np.float32)
