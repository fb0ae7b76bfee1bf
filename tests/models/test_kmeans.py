"""k-means: seeded and order-free training, the uid-hash sample, exact assignment."""

import numpy as np
import pytest
import torch

from pairsift.models.kmeans import KMeansConfig, assign, key_order, sample_mask, train


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_train_is_seeded_and_gives_unit_centroids():
    x = unit(np.random.default_rng(0).standard_normal((400, 8)))
    a, b = train(x, KMeansConfig(5, seed=1)), train(x, KMeansConfig(5, seed=1))
    assert a.tobytes() == b.tobytes() and a.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    assert train(x[:3], KMeansConfig(5)).shape == (3, 8)  # k capped at the rows


def test_converged_centroids_are_the_normalised_means_of_their_members():
    rng = np.random.default_rng(1)
    centres = unit(rng.standard_normal((3, 16)))
    x = unit(np.repeat(centres, 50, axis=0) + 0.05 * rng.standard_normal((150, 16)))
    c = train(x, KMeansConfig(3, iterations=30, seed=0))
    labels, _ = assign(x, torch.from_numpy(c))
    for k in range(3):
        mean = x[labels == k].astype(np.float64).sum(axis=0)
        np.testing.assert_allclose(c[k], mean / np.linalg.norm(mean), atol=1e-4)


def test_assign_matches_a_float64_argmax_and_breaks_ties_low():
    rng = np.random.default_rng(2)
    x, c = unit(rng.standard_normal((1000, 8))), unit(rng.standard_normal((7, 8)))
    labels, sims = assign(x, torch.from_numpy(c), chunk=300)
    ref = x.astype(np.float64) @ c.T.astype(np.float64)
    np.testing.assert_array_equal(labels, ref.argmax(axis=1))
    np.testing.assert_allclose(sims, ref.max(axis=1), atol=1e-6)
    twice = np.concatenate([c[:1], c[:1]])
    assert set(assign(x, torch.from_numpy(twice))[0].tolist()) == {0}


def test_sample_depends_on_the_uids_only():
    keys = np.random.default_rng(3).integers(0, 2**63, size=(20000, 2)).astype(np.uint64)
    mask = sample_mask(keys, seed=0, size=2000)
    assert 1800 < mask.sum() < 2200
    perm = np.random.default_rng(4).permutation(len(keys))
    np.testing.assert_array_equal(sample_mask(keys[perm], seed=0, size=2000), mask[perm])
    assert not np.array_equal(sample_mask(keys, seed=1, size=2000), mask)
    assert sample_mask(keys[:100], seed=0, size=2000).all()
    order = key_order(keys)
    assert all(tuple(keys[order[i]]) <= tuple(keys[order[i + 1]]) for i in range(100))


def test_bad_config_is_an_error():
    with pytest.raises(ValueError, match="clusters must be >= 1"):
        KMeansConfig(0)
