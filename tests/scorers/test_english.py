"""The ``english`` scorer with py3langid: 1/0 per caption, NaN without one, the language and confidence."""

from __future__ import annotations

import numpy as np
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from pairsift.data import EmbeddingBatch
from pairsift.device import Compute
from pairsift.scorers import build_scorer
from tests import pools

CPU = Compute.resolve("cpu")
TEXTS = [
    "a dog running on the beach",
    "le chat dort sur le canapé",
    None,
    "",
    "la casa\nes grande y bonita",
    "OK",
]


def batch(texts):
    uids = np.array([*pools.hex_uids(len(texts) + 1, seed=2)[: len(texts)], "not-a-uid"], dtype=object)
    return EmbeddingBatch.build("s0", uids, alt_text=np.array([*texts, "an english caption"], dtype=object))


def test_english_equals_py3langid_top_label_and_nan_without_caption():
    scorer = build_scorer("english", {})
    scorer.setup(CPU, family="l14")
    columns = scorer.score_columns(batch(TEXTS), CPU)
    assert scorer.output_columns() == ("english", "english_language", "english_confidence")
    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    for i, text in enumerate(TEXTS):
        if text is None:
            assert np.isnan(columns["english"][i]) and columns["english_language"][i] is None
            continue
        code, confidence = reference.classify(text.replace("\n", " "))
        assert columns["english"][i] == float(code == "en")
        assert columns["english_language"][i] == code
        assert columns["english_confidence"][i] == pytest.approx(confidence, rel=1e-6)
    assert np.isnan(columns["english"][-1])  # a malformed uid is not scored
    assert columns["english"][0] == 1.0 and columns["english"][1] == 0.0
    assert np.array_equal(scorer.score(batch(TEXTS), CPU), columns["english"], equal_nan=True)


def test_english_records_its_backend_and_a_named_column():
    scorer = build_scorer("english", {"backend": "py3langid", "name": "en"})
    assert scorer.output_columns() == ("en", "en_language", "en_confidence")
    assert scorer.params()["ran"]["backend"] == "py3langid"
    with pytest.raises(ValueError, match="backend 'cld9': expected one of"):
        build_scorer("english", {"backend": "cld9"})


def test_english_with_fasttext_checks_the_model_file_when_built(tmp_path):
    garbage = tmp_path / "lid.176.bin"
    garbage.write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match="not a fastText model file"):
        build_scorer("english", {"backend": "fasttext", "model": str(garbage)})
    with pytest.raises(ValueError, match="no such file"):
        build_scorer("english", {"backend": "fasttext", "model": str(tmp_path / "missing.bin")})
