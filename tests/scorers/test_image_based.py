"""DataComp's image-based rule against a float64 reference (fixed centroids), and bad targets."""

from pathlib import Path

import numpy as np
import pytest
import torch

from pairsift.data import EmbeddingBatch
from pairsift.device import Compute
from pairsift.errors import InputError
from pairsift.models.kmeans import assign
from pairsift.scorers.image_based import ImageBased
from pairsift.scorers.pool_clusters import ClusteredPool
from tests.scorers.helpers import MemoryPool, random_uids

CPU = Compute.resolve("cpu")


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_column_equals_a_float64_reference_with_fixed_centroids(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = unit(rng.standard_normal((300, 12)))
    centroids = unit(rng.standard_normal((10, 12))).astype(np.float32)
    targets = unit(rng.standard_normal((4, 12)))
    np.save(tmp_path / "t.npy", targets.astype(np.float32))
    keys = rng.integers(0, 2**63, size=(300, 2), dtype=np.int64).astype(np.uint64)
    valid = {"a": np.ones(150, bool), "b": np.r_[np.ones(150, bool), [False]]}
    pool = ClusteredPool(["a", "b"], valid, keys, x.astype(np.float32), centroids)
    pool.labels, pool.centroid_sim = assign(pool.cache, torch.from_numpy(centroids))
    scorer = ImageBased(target=str(tmp_path / "t.npy"))
    scorer.setup(CPU, family="l14")
    out = scorer.column_of(pool, CPU)
    c64 = centroids.astype(np.float64)
    wanted = set((targets @ c64.T).argmax(axis=1).tolist())
    expected = np.isin((x @ c64.T).argmax(axis=1), sorted(wanted)).astype(np.float32)
    np.testing.assert_array_equal(np.r_[out["a"], out["b"][:150]], expected)
    assert np.isnan(out["b"][150]) and 0 < expected.sum() < 300


def test_a_target_of_the_wrong_dimension_is_a_clear_error(tmp_path: Path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "t.npy", rng.standard_normal((5, 8)).astype(np.float32))
    batch = EmbeddingBatch.build(
        "s", random_uids(rng, 20), image=rng.standard_normal((20, 12)).astype(np.float32)
    )
    scorer = ImageBased(target=str(tmp_path / "t.npy"), clusters=2)
    scorer.setup(CPU, family="l14")
    with pytest.raises(InputError, match=r"dimension 12 but target file .*t\.npy has dimension 8"):
        scorer.score_pool(MemoryPool([batch]), CPU, seed=0)


def test_needs_a_target():
    with pytest.raises(ValueError, match="image_based needs target="):
        ImageBased()
