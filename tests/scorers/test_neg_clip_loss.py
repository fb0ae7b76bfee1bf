import itertools

import numpy as np
import pytest
import torch

from pairsift import device as compute_module
from pairsift.data import EmbeddingBatch
from pairsift.device import Compute
from pairsift.scorers import neg_clip_loss
from pairsift.scorers.neg_clip_loss import NegClipLoss, batch_sizes, random_order
from tests import reference
from tests.scorers.helpers import random_batch, random_uids

CPU = Compute.resolve("cpu")


def partitions(batch: EmbeddingBatch, k: int, b: int, seed: int, remainder: str) -> list[list[np.ndarray]]:
    out = []
    for rep in range(k):
        order = random_order(batch.uid_keys, seed, rep)
        cuts = np.cumsum([0, *batch_sizes(len(batch), b, remainder)])
        out.append([order[a:z] for a, z in itertools.pairwise(cuts)])
    return out


def test_whole_shard_as_one_batch_matches_float64_reference():
    batch = random_batch(n=300, dim=32, seed=1)
    got = NegClipLoss(batch_size=10_000, k=1, tau=0.01).score(batch, CPU, seed=0)
    want = reference.neg_clip_loss(batch.image, batch.text, [[np.arange(300)]], tau=0.01)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


@pytest.mark.parametrize("remainder", ["balanced", "reference"])
@pytest.mark.parametrize("tau", [0.01, 0.07])
def test_k_averaged_random_batches_match_reference(remainder, tau, monkeypatch):
    monkeypatch.setattr(compute_module, "CPU_TILE", 16)  # force several tiles per batch
    batch = random_batch(n=203, dim=24, seed=2, noise=0.8)
    scorer = NegClipLoss(batch_size=64, k=4, tau=tau, remainder=remainder, seed=5)
    got = scorer.score(batch, CPU, seed=0)
    want = reference.neg_clip_loss(batch.image, batch.text, partitions(batch, 4, 64, 5, remainder), tau)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_overflowing_rows_and_columns_are_recomputed_exactly():
    # Pairs whose own similarity is far below a batch-mate's: exp((s_ij - s_ii)/tau) overflows float32.
    rng = np.random.default_rng(3)
    img = rng.standard_normal((40, 8)).astype(np.float32)
    txt = img + 0.1 * rng.standard_normal((40, 8)).astype(np.float32)
    txt[:5] = -img[:5]  # s_ii = -1 while s_ij can be near +1
    batch = EmbeddingBatch.build("s", random_uids(rng, 40), image=img, text=txt)
    got = NegClipLoss(batch_size=100, k=1, tau=0.005).score(batch, CPU, seed=0)
    want = reference.neg_clip_loss(batch.image, batch.text, [[np.arange(40)]], tau=0.005)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def shift_spread(batch: EmbeddingBatch, tau: float) -> float:
    own = np.einsum("ij,ij->i", batch.image.astype(np.float64), batch.text) / tau
    return float(own.max() - own.min())


def test_one_exponential_kernel_overflow_is_repaired():
    # spread of the shifts within ONE_EXP_SPREAD, yet s_01/τ − h_0 − h_1 ≈ 100 > 88: E_01 overflows
    rng = np.random.default_rng(4)
    img = rng.standard_normal((40, 8)).astype(np.float32)
    txt = img + 0.5 * rng.standard_normal((40, 8)).astype(np.float32)
    u, v, w = np.eye(8, dtype=np.float32)[:3]
    img[0], txt[0], img[1], txt[1] = u, v, w, u  # s_00 = s_11 = 0, s_01 = 1
    batch = EmbeddingBatch.build("s", random_uids(rng, 40), image=img, text=txt)
    assert shift_spread(batch, 0.01) <= neg_clip_loss.ONE_EXP_SPREAD
    got = NegClipLoss(batch_size=100, k=1, tau=0.01).score(batch, CPU, seed=0)
    want = reference.neg_clip_loss(batch.image, batch.text, [[np.arange(40)]], tau=0.01)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_wide_shift_spread_takes_the_two_pass_kernel(monkeypatch):
    batch = random_batch(n=120, dim=16, seed=6, noise=1.0)
    calls = []
    original = neg_clip_loss.two_pass_sums
    monkeypatch.setattr(neg_clip_loss, "two_pass_sums", lambda *a: calls.append(1) or original(*a))
    tau = 0.002  # spread of s_ii/τ over a few hundred
    assert shift_spread(batch, tau) > neg_clip_loss.ONE_EXP_SPREAD
    got = NegClipLoss(batch_size=1000, k=1, tau=tau).score(batch, CPU, seed=0)
    want = reference.neg_clip_loss(batch.image, batch.text, [[np.arange(120)]], tau=tau)
    assert calls
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


@pytest.mark.parametrize("tau", [0.01, 0.05])
def test_one_and_two_pass_kernels_agree(tau, monkeypatch):
    monkeypatch.setattr(compute_module, "CPU_TILE", 32)
    batch = random_batch(n=150, dim=24, seed=7)
    f, g = (torch.from_numpy(x) for x in (batch.image, batch.text))
    one = neg_clip_loss.log_batch_sums(f, g, tau, CPU)
    two = neg_clip_loss.two_pass_sums(f, g, tau, CPU)
    for a, b in zip(one, two, strict=True):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=0)


def test_scores_do_not_depend_on_the_thread_count(restore_threads, monkeypatch):
    monkeypatch.setattr(compute_module, "CPU_TILE", 128)  # several tiles per batch
    batch = random_batch(n=700, dim=64, seed=8)
    runs = []
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        runs.append(NegClipLoss(batch_size=512, k=2, tau=0.01).score(batch, CPU, seed=0))
    assert runs[0].tobytes() == runs[1].tobytes() == runs[2].tobytes()


def test_balanced_batch_sizes_differ_by_at_most_one():
    for n in (1, 7, 100, 32769, 100_000):
        sizes = batch_sizes(n, 32768, "balanced")
        assert sum(sizes) == n
        assert max(sizes) - min(sizes) <= 1
        assert len(sizes) == -(-n // 32768)


def test_reference_batch_sizes_cut_full_batches_and_a_short_one():
    assert batch_sizes(100, 30, "reference") == [30, 30, 30, 10]
    assert batch_sizes(90, 30, "reference") == [30, 30, 30]
    assert batch_sizes(20, 30, "reference") == [20]


def test_short_reference_batch_scores_higher_than_balanced():
    batch = random_batch(n=130, dim=16, seed=4)
    short = NegClipLoss(batch_size=64, k=1, remainder="reference").score(batch, CPU, seed=0)
    order = random_order(batch.uid_keys, 0, 0)
    last = order[128:]  # the two rows of the short batch
    rest = order[:128]
    assert short[last].mean() > short[rest].mean()


def test_random_order_depends_on_uids_not_positions():
    batch = random_batch(n=50, seed=5)
    perm = np.random.default_rng(0).permutation(50)
    a = batch.uids[random_order(batch.uid_keys, 3, 1)]
    b = batch.uids[perm][random_order(batch.uid_keys[perm], 3, 1)]
    assert list(a) == list(b)
    assert list(a) != list(batch.uids[random_order(batch.uid_keys, 4, 1)])


def test_tau_defaults_to_the_teachers_temperature():
    scorer = NegClipLoss()
    scorer.setup(CPU, family="l14")
    assert scorer.tau == 0.01
    scorer = NegClipLoss(tau=0.05)
    scorer.setup(CPU, family="l14")
    assert scorer.tau == 0.05


@pytest.mark.parametrize("bad", [{"k": 0}, {"batch_size": 0}, {"tau": -1}, {"remainder": "x"}])
def test_bad_parameters_are_refused(bad):
    with pytest.raises(ValueError):
        NegClipLoss(**bad)
