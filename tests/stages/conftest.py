"""A tiny world and a student CLIP trained a few steps on it, shared by the train and evaluate tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairsift import api
from pairsift.world import WorldConfig, generate

#: two epochs of two batches of 32: a few optimizer steps
FEW_STEPS = {"samples_seen": 128, "checkpoints": 2, "batch_size": 32, "workers": 0, "device": "cpu"}


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("train") / "world"
    generate(out, WorldConfig(samples=200, shard_size=100, seed=5, task_samples=24, tasks=("colour",)))
    return out


@pytest.fixture(scope="session")
def student(tiny_world: Path) -> Path:
    """A student of the teacher's architecture trained a few steps on the world's pool."""
    out = tiny_world.parent / "student"
    api.train(str(tiny_world / "pool"), str(out), model="pairsift-tiny-world", seed=3, **FEW_STEPS)
    return out
