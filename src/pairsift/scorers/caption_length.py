"""``caption_length``: the caption's length in words and in characters, as DataComp counts them.

Words by ``tokenizer``:

* ``split`` (default): ``len(text.split())``, Python's split on any Unicode whitespace — DataComp's
  *basic* filter (keeps more than 2 words and more than 5 characters);
* ``fasttext``: ``len(fasttext.tokenize(text))`` — DataComp's caption prefilter of the *image-based*
  baseline (keeps more than 1 word and more than 5 characters). fastText's ``Dictionary::readWord``
  splits on the seven bytes space, ``\n``, ``\r``, ``\t``, ``\v``, ``\f`` and NUL only (not on other
  Unicode spaces such as U+00A0), and every ``\n`` is one more token (its end-of-sentence ``</s>``);
  reimplemented here, so the count needs no fastText install.

Characters: ``len(text)`` (Unicode code points). Writes ``caption_length`` (words) and
``caption_length_chars`` (characters); NaN without a caption.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from pairsift.data import ALT_TEXT, EmbeddingBatch
from pairsift.device import Compute
from pairsift.scorers.base import Scorer, register

#: fastText's word separators (``Dictionary::readWord``)
_FASTTEXT_SEPARATORS = re.compile("[ \n\r\t\v\f\0]+")


def split_words(text: str) -> int:
    """``len(text.split())``."""
    return len(text.split())


def fasttext_words(text: str) -> int:
    """``len(fasttext.tokenize(text))``: words between fastText's separators, plus one ``</s>`` a newline."""
    return sum(1 for word in _FASTTEXT_SEPARATORS.split(text) if word) + text.count("\n")


#: word counters by ``tokenizer`` name
TOKENIZERS: dict[str, Callable[[str], int]] = {"split": split_words, "fasttext": fasttext_words}


@register("caption_length")
class CaptionLength(Scorer):
    """Words and characters of the alt-text."""

    requires = frozenset({ALT_TEXT})

    def __init__(self, *, tokenizer: str = "split", name: str | None = None) -> None:
        super().__init__(name=name)
        if str(tokenizer) not in TOKENIZERS:
            raise ValueError(f"tokenizer {tokenizer!r}: expected one of {', '.join(sorted(TOKENIZERS))}")
        self.tokenizer = str(tokenizer)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "tokenizer": self.tokenizer}

    def output_columns(self) -> tuple[str, ...]:
        return (self.column, f"{self.column}_chars")

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        assert batch.alt_text is not None
        count = TOKENIZERS[self.tokenizer]
        return np.array([count(str(t)) for t in batch.alt_text[valid]], dtype=np.float32)

    def score_columns(
        self, batch: EmbeddingBatch, compute: Compute, *, seed: int = 0
    ) -> dict[str, np.ndarray]:
        chars = np.full(len(batch), np.nan, dtype=np.float32)
        valid = batch.valid(self.requires)
        if valid.any():
            assert batch.alt_text is not None
            chars[valid] = [len(str(t)) for t in batch.alt_text[valid]]
        return {self.column: self.score(batch, compute, seed=seed), f"{self.column}_chars": chars}
