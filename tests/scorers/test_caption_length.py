"""``caption_length``: words by str.split() and characters, as DataComp's basic filter counts them."""

from __future__ import annotations

import numpy as np

from pairsift.data import EmbeddingBatch
from pairsift.device import Compute
from pairsift.scorers import build_scorer
from tests import pools

CPU = Compute.resolve("cpu")


def test_words_and_characters():
    texts = ["a photo of a dog", "  two\twords\n", "", None, "café au lait", "x"]
    uids = np.array(pools.hex_uids(len(texts)), dtype=object)
    scorer = build_scorer("caption_length", {})
    columns = scorer.score_columns(
        EmbeddingBatch.build("s", uids, alt_text=np.array(texts, dtype=object)), CPU
    )
    words = [len(t.split()) if t is not None else np.nan for t in texts]
    chars = [len(t) if t is not None else np.nan for t in texts]
    assert np.array_equal(columns["caption_length"], np.array(words, dtype=np.float32), equal_nan=True)
    assert np.array_equal(columns["caption_length_chars"], np.array(chars, dtype=np.float32), equal_nan=True)
    assert columns["caption_length_chars"][4] == 12  # characters, not the 13 UTF-8 bytes
