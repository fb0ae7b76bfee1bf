"""``caption_length``: the caption's length in words and in characters, as DataComp's basic filter counts
them (``len(text.split())`` words, ``len(text)`` Unicode characters; DataComp keeps more than 2 words and
more than 5 characters).

Writes ``caption_length`` (words) and ``caption_length_chars`` (characters); NaN without a caption.
"""

from __future__ import annotations

import numpy as np

from pairsift.data import ALT_TEXT, EmbeddingBatch
from pairsift.device import Compute
from pairsift.scorers.base import Scorer, register


@register("caption_length")
class CaptionLength(Scorer):
    """Words (whitespace-separated) and characters of the alt-text."""

    requires = frozenset({ALT_TEXT})

    def output_columns(self) -> tuple[str, ...]:
        return (self.column, f"{self.column}_chars")

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        assert batch.alt_text is not None
        return np.array([len(str(t).split()) for t in batch.alt_text[valid]], dtype=np.float32)

    def score_columns(
        self, batch: EmbeddingBatch, compute: Compute, *, seed: int = 0
    ) -> dict[str, np.ndarray]:
        chars = np.full(len(batch), np.nan, dtype=np.float32)
        valid = batch.valid(self.requires)
        if valid.any():
            assert batch.alt_text is not None
            chars[valid] = [len(str(t)) for t in batch.alt_text[valid]]
        return {self.column: self.score(batch, compute, seed=seed), f"{self.column}_chars": chars}
