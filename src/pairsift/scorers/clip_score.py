"""CLIPScore (METHODS.md §1): the cosine of a sample's own image and text embeddings."""

from __future__ import annotations

import numpy as np
import torch

from pairsift.data import IMAGE, TEXT, EmbeddingBatch, select_rows
from pairsift.device import Compute
from pairsift.scorers.base import Scorer, register


def own_similarity(image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """Row-wise dot product ``s_ii`` of unit-norm float32 embeddings."""
    return torch.einsum("ij,ij->i", image, text)


@register("clip_score")
class ClipScore(Scorer):
    """``clip_score(i) = f_i · g_i`` on float32-renormalised embeddings. Cost: 2·d flops per sample."""

    requires = frozenset({IMAGE, TEXT})

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        assert batch.image is not None and batch.text is not None
        f = torch.from_numpy(select_rows(batch.image, valid)).to(compute.device)
        g = torch.from_numpy(select_rows(batch.text, valid)).to(compute.device)
        return own_similarity(f, g).cpu().numpy()
