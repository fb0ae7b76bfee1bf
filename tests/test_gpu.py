"""GPU paths agree with the CPU ones. Skipped where torch sees no CUDA device (CI never has one)."""

import numpy as np
import pytest
import torch

from pairsift.device import Compute
from pairsift.scorers.clip_score import ClipScore
from pairsift.scorers.neg_clip_loss import NegClipLoss
from pairsift.scorers.norm_sim import NormSim
from tests.scorers.helpers import random_batch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "t.npy"
    np.save(path, np.random.default_rng(0).standard_normal((3000, 64)).astype(np.float32))
    return str(path)


@pytest.mark.parametrize(
    "make",
    [
        lambda t: ClipScore(),
        lambda t: NegClipLoss(batch_size=1024, k=3),
        lambda t: NormSim(target=t, p=2),
        lambda t: NormSim(target=t, p="inf"),
        lambda t: NormSim(target=t, p=3),
    ],
)
def test_cuda_matches_cpu(make, target):
    batch = random_batch(n=2500, dim=64, seed=1)
    results = []
    for device in ("cpu", "cuda"):
        compute = Compute.resolve(device)
        scorer = make(target)
        scorer.setup(compute, family="l14")
        results.append(scorer.score(batch, compute, seed=0))
    np.testing.assert_allclose(results[1], results[0], atol=1e-4)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_stays_close(precision):
    batch = random_batch(n=2048, dim=64, seed=2)
    exact = NegClipLoss(batch_size=1024, k=2).score(batch, Compute.resolve("cuda"), seed=0)
    half = NegClipLoss(batch_size=1024, k=2).score(batch, Compute.resolve("cuda", precision), seed=0)
    assert np.abs(half - exact).max() < 0.05


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_captioning_on_the_gpu(tmp_path, precision):
    from pairsift.models.caption_settings import CaptionSettings
    from pairsift.models.captioners import load_captioner
    from tests.models.tiny_blip import save_tiny_blip

    captioner = load_captioner(str(save_tiny_blip(tmp_path / "blip")), Compute.resolve("cuda", precision))
    assert next(captioner.model.parameters()).device.type == "cuda"
    pixels = torch.randn(4, 3, 64, 64)
    captions = captioner.caption(pixels, CaptionSettings(num_captions=3), seed=0)
    assert len(captions) == 4 and all(len(c) == 3 for c in captions)
    assert captioner.caption(pixels, CaptionSettings(num_captions=3), seed=0) == captions


def test_norm_sim_d_on_cuda_selects_what_cpu_selects(tmp_path):
    from pairsift.scorers.norm_sim_d import NormSimD
    from tests.scorers.test_norm_sim_d import pool_of

    pool = pool_of(shards=3, rows=400, dim=32, seed=3)[0]
    results = []
    for device in ("cpu", "cuda"):
        out = NormSimD(fraction=0.4, target_fraction=0.2, iters=5).score_pool(
            pool, Compute.resolve(device), seed=0, workdir=tmp_path
        )
        results.append(np.concatenate([out[s] for s in pool.shards()]))
    cpu, cuda = results
    # the drop round (integer part) decides the selection: it must match; the in-round value is close
    np.testing.assert_array_equal(np.floor(cuda), np.floor(cpu))
    np.testing.assert_allclose(cuda, cpu, atol=1e-3)
