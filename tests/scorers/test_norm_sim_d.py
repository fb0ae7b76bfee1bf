import numpy as np
import pytest
import torch

from pairsift.data import EmbeddingBatch
from pairsift.device import Compute
from pairsift.scorers.norm_sim_d import NormSimD
from tests import reference
from tests.scorers.helpers import MemoryPool, random_uids

CPU = Compute.resolve("cpu")


def pool_of(
    shards: int, rows: int, dim: int, seed: int
) -> tuple[MemoryPool, np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    batches = []
    for s in range(shards):
        img = rng.standard_normal((rows, dim)).astype(np.float32)
        img[:, 0] += 2.0  # a dominant direction, as in real embeddings
        txt = (img + 1.5 * rng.standard_normal((rows, dim))).astype(np.float32)
        batches.append(EmbeddingBatch.build(f"shard{s}", random_uids(rng, rows), image=img, text=txt))
    f = np.concatenate([b.image for b in batches])
    g = np.concatenate([b.text for b in batches])
    uids = [u for b in batches for u in b.uids]
    return MemoryPool(batches), f, g, uids


@pytest.mark.parametrize(
    ("fraction", "target_fraction", "iters"), [(0.3, 0.2, 10), (0.5, 0.1, 3), (0.4, 0.4, 2)]
)
def test_selection_equals_direct_implementation(fraction, target_fraction, iters, tmp_path):
    pool, f, g, uids = pool_of(shards=3, rows=150, dim=12, seed=7)
    scorer = NormSimD(fraction=fraction, target_fraction=target_fraction, iters=iters)
    out = scorer.score_pool(pool, CPU, seed=0, workdir=tmp_path)
    values = np.concatenate([out[s] for s in pool.shards()])
    cand, survivors = reference.norm_sim_d(f, g, uids, fraction, target_fraction, iters)
    m = int(target_fraction * len(values))
    top = np.sort(np.argsort(-values, kind="stable")[:m])
    np.testing.assert_array_equal(top, survivors)
    np.testing.assert_array_equal(np.flatnonzero(values > -1), cand)
    assert (values[values > -1] >= 0).all()
    assert len(list(tmp_path.iterdir())) == 0  # the candidate cache is removed


def test_invalid_rows_are_nan_and_never_candidates(tmp_path):
    pool, _, _, _ = pool_of(shards=1, rows=100, dim=8, seed=1)
    batch = pool.batches["shard0"]
    img = batch.image.copy()
    img[3] = np.nan
    broken = EmbeddingBatch.build("shard0", batch.uids, image=img, text=batch.text)
    out = NormSimD().score_pool(MemoryPool([broken]), CPU, seed=0, workdir=tmp_path)["shard0"]
    assert np.isnan(out[3]) and np.isfinite(np.delete(out, 3)).all()


def test_fractions_are_validated():
    with pytest.raises(ValueError):
        NormSimD(fraction=0.2, target_fraction=0.3)
    with pytest.raises(ValueError):
        NormSimD(iters=0)


def test_output_bytes_do_not_depend_on_thread_count(tmp_path, restore_threads):
    # A resumed run (another machine, another core count, or BLAS picking fewer threads under load)
    # must write the same bytes: every reduction over rows has one fixed order.
    pool, _, _, _ = pool_of(shards=4, rows=1500, dim=48, seed=3)
    outputs = []
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        out = NormSimD(iters=4).score_pool(pool, CPU, seed=0, workdir=tmp_path)
        outputs.append(np.concatenate([out[s] for s in pool.shards()]).tobytes())
    assert outputs[0] == outputs[1] == outputs[2]
