"""``text_entity``: does some word of the caption name an ImageNet-21k class? DataComp's text-based
baseline (with ``english``): a caption is kept when, for some whitespace-separated word, the first synset
WordNet lists for it is one of ImageNet-21k's 21,843 classes (see :mod:`pairsift.models.wordnet`).

Writes ``text_entity``: 1.0 when some word hits, 0.0 when none does, NaN without a caption. The lookup
table is the shipped ``assets/in21k_lemmas.tsv.gz`` unless ``lemmas=PATH`` names another.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pairsift.data import ALT_TEXT, EmbeddingBatch
from pairsift.device import Compute
from pairsift.models.wordnet import DEFAULT_TABLE, LemmaTable, load_table
from pairsift.scorers.base import Scorer, register


@register("text_entity")
class TextEntity(Scorer):
    """1.0 when a caption word's first WordNet sense is an ImageNet-21k class, else 0.0."""

    requires = frozenset({ALT_TEXT})

    def __init__(self, *, lemmas: str | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.lemmas = None if lemmas in (None, "") else str(lemmas)

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "lemmas": self.lemmas or f"pairsift/assets/{DEFAULT_TABLE}"}

    def setup(self, compute: Compute, *, family: str) -> None:
        self.table_: LemmaTable = load_table(self.lemmas)

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        assert batch.alt_text is not None
        table = self.table_
        return np.array([table.any_word_hits(str(t)) for t in batch.alt_text[valid]], dtype=np.float32)
