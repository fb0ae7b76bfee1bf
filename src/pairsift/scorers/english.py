"""``english``: is the caption English? DataComp's language filter (its basic, text-based and image-based
baselines keep a sample when fastText's top language for the caption is ``en``).

Writes ``english`` (1.0 when the top language of the alt-text is English, else 0.0; NaN when the row has
no caption), ``english_language`` (the top language's code) and ``english_confidence`` (the backend's
probability for it). Keep English captions with ``--threshold english>=1``. The backend
(``backend=py3langid`` by default, or ``backend=fasttext,model=lid.176.bin``) is recorded in ``run.json``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pairsift.data import ALT_TEXT, EmbeddingBatch
from pairsift.device import Compute
from pairsift.models.langid import LANGUAGE_IDS, LanguageIdentifier, language_identifier
from pairsift.scorers.base import Scorer, register

ENGLISH = "en"


@register("english")
class English(Scorer):
    """1.0 when the caption's top language is English, 0.0 when it is another, NaN without a caption."""

    requires = frozenset({ALT_TEXT})

    def __init__(
        self, *, backend: str = "py3langid", model: str | None = None, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        if str(backend) not in LANGUAGE_IDS.names():
            raise ValueError(f"backend {backend!r}: expected one of {', '.join(LANGUAGE_IDS.names())}")
        self.backend = str(backend)
        self.model = None if model in (None, "") else str(model)
        self.identifier: LanguageIdentifier = language_identifier(self.backend, self.model)

    def params(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.backend,
            "model": self.model,
            "ran": self.identifier.describe(),
        }

    def output_columns(self) -> tuple[str, ...]:
        return (self.column, f"{self.column}_language", f"{self.column}_confidence")

    def setup(self, compute: Compute, *, family: str) -> None:
        self.identifier.load()

    def __getstate__(self) -> dict[str, Any]:
        """The identifier travels without its loaded model; each worker's :meth:`setup` loads it."""
        state = super().__getstate__()
        state["identifier"] = language_identifier(self.backend, self.model)
        return state

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        return self.score_columns(batch, compute, seed=seed)[self.column][valid]

    def score_columns(
        self, batch: EmbeddingBatch, compute: Compute, *, seed: int = 0
    ) -> dict[str, np.ndarray]:
        n = len(batch)
        english = np.full(n, np.nan, dtype=np.float32)
        language = np.full(n, None, dtype=object)
        confidence = np.full(n, np.nan, dtype=np.float32)
        valid = batch.valid(self.requires)
        if valid.any():
            assert batch.alt_text is not None
            codes, confidences = self.identifier.predict([str(t) for t in batch.alt_text[valid]])
            language[valid] = codes
            english[valid] = np.array([c == ENGLISH for c in codes], dtype=np.float32)
            confidence[valid] = confidences
        return {
            self.column: english,
            f"{self.column}_language": language,
            f"{self.column}_confidence": confidence,
        }
