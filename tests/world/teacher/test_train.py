"""A very short training run on a tiny world lowers the loss and writes a loadable teacher."""

from __future__ import annotations

from pathlib import Path

import open_clip
import pytest
import torch

from pairsift.world import WorldConfig, generate
from pairsift.world.teacher import load_teacher
from pairsift.world.teacher.model import save_teacher
from pairsift.world.teacher.train import TrainConfig, lr_at, normalise, train


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("teacher") / "world"
    generate(world, WorldConfig(samples=200, seed=5, tasks=()))
    return world


def _fixed_batch_loss(model: open_clip.CLIP, world: Path) -> float:
    from pairsift.world.teacher.model import build_tokenizer, default_config
    from pairsift.world.teacher.train import load_corpus

    config = default_config()
    corpus = load_corpus(world / "pool", build_tokenizer(config), 64)
    images = normalise(corpus.images[:64], config["mean"], config["std"])
    with torch.no_grad():
        out = model.eval()(images, corpus.tokens[:64])
    return float(open_clip.loss.ClipLoss()(*out))


def test_short_training_lowers_loss_and_saves_a_loadable_teacher(tiny_world: Path, tmp_path: Path) -> None:
    tc = TrainConfig(epochs=1, batch_size=32, lr=5e-4, warmup_fraction=0.0, seed=1, max_steps=5)
    torch.manual_seed(tc.seed)
    from pairsift.world.teacher.model import build_model, default_config

    before = _fixed_batch_loss(build_model(default_config()), tiny_world)  # the same init as train()
    result = train(tiny_world / "pool", tc)
    assert len(result.losses) == 5
    assert result.config["training"]["pairs"] > 150  # corrupt samples were skipped
    after = _fixed_batch_loss(result.model, tiny_world)
    assert after < before

    weights, _ = save_teacher(result.model, result.config, tmp_path)
    assert weights.read_bytes()[:8] != b"\x80\x02\x8a\x0a"  # not a pickle
    model, _, tokenizer = load_teacher(directory=tmp_path)
    tokens = tokenizer(["a photo of two red circles"])
    with torch.no_grad():
        got = model.encode_text(tokens, normalize=True)
        want = result.model.encode_text(tokens, normalize=True)
    assert torch.allclose(got, want, atol=2e-2)  # stored as float16


def test_training_is_deterministic_for_a_seed(tiny_world: Path) -> None:
    tc = TrainConfig(epochs=1, batch_size=32, seed=2, max_steps=2)
    assert train(tiny_world / "pool", tc).losses == train(tiny_world / "pool", tc).losses


def test_lr_schedule_warms_up_then_decays_to_zero() -> None:
    tc = TrainConfig(lr=1.0, warmup_fraction=0.1)
    assert lr_at(0, 100, tc) == pytest.approx(0.1)
    assert lr_at(9, 100, tc) == pytest.approx(1.0)
    assert lr_at(99, 100, tc) < 1e-3
