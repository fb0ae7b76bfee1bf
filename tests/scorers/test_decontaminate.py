"""Decontamination: max cosine, flag and match against a float64 reference; bad targets."""

from pathlib import Path

import numpy as np
import pytest

from pairsift.data import EmbeddingBatch
from pairsift.device import Compute
from pairsift.errors import InputError
from pairsift.scorers.decontaminate import Decontaminate
from tests.scorers.helpers import random_uids

CPU = Compute.resolve("cpu")


def test_columns_equal_a_float64_reference(tmp_path: Path):
    rng = np.random.default_rng(0)
    tests = rng.standard_normal((30, 16))
    tests /= np.linalg.norm(tests, axis=1, keepdims=True)
    pool = rng.standard_normal((50, 16))
    pool[:5] = tests[[3, 7, 7, 20, 0]] + 0.01 * rng.standard_normal((5, 16))  # leaks
    pool[6] = np.nan
    np.save(tmp_path / "t.npy", tests.astype(np.float32))
    scorer = Decontaminate(target=str(tmp_path / "t.npy"), threshold=0.9)
    scorer.setup(CPU, family="l14")
    batch = EmbeddingBatch.build("s", random_uids(rng, 50), image=pool.astype(np.float32))
    out = scorer.score_columns(batch, CPU)
    ok = batch.valid(scorer.requires)
    unit = pool[ok] / np.linalg.norm(pool[ok], axis=1, keepdims=True)
    sim = unit @ tests.T
    np.testing.assert_allclose(out["decontaminate"][ok], sim.max(axis=1), atol=1e-5)
    np.testing.assert_array_equal(out["decontaminate_match"][ok], sim.argmax(axis=1))
    np.testing.assert_array_equal(
        out["decontaminate_flagged"][ok], (sim.max(axis=1) >= 0.9).astype(np.float32)
    )
    assert (
        out["decontaminate_flagged"][:5].tolist() == [1.0] * 5 and out["decontaminate_flagged"][ok].sum() == 5
    )
    assert np.isnan(out["decontaminate"][6]) and np.isnan(out["decontaminate_flagged"][6])


def test_a_target_of_the_wrong_dimension_is_a_clear_error(tmp_path: Path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "t.npy", rng.standard_normal((5, 8)).astype(np.float32))
    scorer = Decontaminate(target=str(tmp_path / "t.npy"))
    scorer.setup(CPU, family="l14")
    batch = EmbeddingBatch.build(
        "s", random_uids(rng, 4), image=rng.standard_normal((4, 12)).astype(np.float32)
    )
    with pytest.raises(InputError, match="dimension 12 but target file"):
        scorer.score_columns(batch, CPU)


@pytest.mark.parametrize("threshold", [-2, 1.5, "x"])
def test_threshold_out_of_range_is_a_clear_error(threshold):
    with pytest.raises(ValueError, match="threshold must be"):
        Decontaminate(target="t.npy", threshold=threshold)
