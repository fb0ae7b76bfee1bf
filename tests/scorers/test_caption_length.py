"""``caption_length``: words by str.split() (basic) or fastText's tokenize (image-based), and characters."""

from __future__ import annotations

import numpy as np
import pytest

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


def read_words(text: str) -> list[str]:
    """fastText's ``tokenize`` (``Dictionary::readWord`` loop), byte by byte as the C++ does it."""
    data, i, words, word = text.encode(), 0, [], b""
    while i < len(data):
        c = data[i : i + 1]
        i += 1
        if c in (b" ", b"\n", b"\r", b"\t", b"\v", b"\f", b"\0"):
            if not word:
                if c == b"\n":
                    words.append("</s>")
                continue
            words.append(word.decode())
            word = b""
            if c == b"\n":
                i -= 1  # sungetc: the newline is read again, as an end of sentence
            continue
        word += c
    if word:
        words.append(word.decode())
    return words


def test_fasttext_tokenizer_counts_as_fasttext_tokenize():
    texts = [
        "a photo of a dog",
        "dog\n",  # one word and its end-of-sentence token: 2, where split() says 1
        "two\u00a0words",  # no-break space: one fastText token, two split() words
        "a\x1cb",  # a separator split() knows and fastText does not
        "nul\0split",
        "\n\n x \r\n",
        "",
        "  café  ",
    ]
    uids = np.array(pools.hex_uids(len(texts)), dtype=object)
    scorer = build_scorer("caption_length", {"tokenizer": "fasttext"})
    columns = scorer.score_columns(
        EmbeddingBatch.build("s", uids, alt_text=np.array(texts, dtype=object)), CPU
    )
    expected = np.array([len(read_words(t)) for t in texts], dtype=np.float32)
    np.testing.assert_array_equal(columns["caption_length"], expected)
    assert expected.tolist()[:5] == [5, 2, 1, 1, 2]
    assert scorer.params()["tokenizer"] == "fasttext"


def test_an_unknown_tokenizer_is_an_error():
    with pytest.raises(ValueError, match="tokenizer 'nltk': expected one of fasttext, split"):
        build_scorer("caption_length", {"tokenizer": "nltk"})
