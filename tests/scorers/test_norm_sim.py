import math

import numpy as np
import pytest
import torch

from pairsift import device as compute_module
from pairsift.device import Compute
from pairsift.errors import InputError
from pairsift.scorers.norm_sim import GRAM_CHUNK, NormSim, gram
from tests import reference
from tests.scorers.helpers import random_batch

CPU = Compute.resolve("cpu")


@pytest.fixture
def targets(tmp_path):
    rng = np.random.default_rng(11)
    arr = rng.standard_normal((150, 16)).astype(np.float32)
    path = tmp_path / "targets.npy"
    np.save(path, arr)
    return path, arr


@pytest.mark.parametrize("p", [1, 2, 3, "inf", 2.5])
def test_matches_float64_reference(p, targets, monkeypatch):
    monkeypatch.setattr(compute_module, "CPU_TILE_REDUCE", 32)  # several target and row tiles
    path, arr = targets
    batch = random_batch(n=120, dim=16, seed=3)
    scorer = NormSim(target=str(path), p=p)
    scorer.setup(CPU, family="l14")
    got = scorer.score(batch, CPU)
    want = reference.norm_sim(batch.image, arr, math.inf if p == "inf" else float(p))
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize(
    ("p", "column"), [(2, "norm_sim_2"), ("inf", "norm_sim_inf"), (1, "norm_sim_p1"), (2.5, "norm_sim_p2.5")]
)
def test_default_columns(p, column, targets):
    assert NormSim(target=str(targets[0]), p=p).column == column
    assert NormSim(target=str(targets[0]), p=p, name="x").column == "x"


def test_dimension_mismatch_names_both(targets):
    scorer = NormSim(target=str(targets[0]), p=2)
    scorer.setup(CPU, family="l14")
    with pytest.raises(InputError, match=r"dimension 8.*dimension 16"):
        scorer.score(random_batch(n=10, dim=8), CPU)


@pytest.mark.parametrize("p", [0.5, "x", -1])
def test_bad_p_is_refused(p, targets):
    with pytest.raises(ValueError, match="p must be"):
        NormSim(target=str(targets[0]), p=p)


def test_target_is_required():
    with pytest.raises(ValueError, match="target"):
        NormSim()


def test_gram_is_exact_enough_and_independent_of_threads(restore_threads):
    rng = np.random.default_rng(5)
    rows = rng.standard_normal((2 * GRAM_CHUNK + 7, 24)).astype(np.float32)  # chunks + ragged tail
    expected = rows.astype(np.float64).T @ rows.astype(np.float64)
    results = []
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        results.append(gram(rows).numpy())
    np.testing.assert_allclose(results[0], expected, rtol=1e-5, atol=1e-2)
    assert results[0].tobytes() == results[1].tobytes() == results[2].tobytes()
    assert gram(rows[:1]).numpy().tobytes() == np.outer(rows[0], rows[0]).astype(np.float64).tobytes()
    assert not gram(rows[:0]).any()
