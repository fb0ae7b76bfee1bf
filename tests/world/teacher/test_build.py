"""``train_teacher`` end to end on a tiny world, and the ``world train-teacher`` command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from pairsift.world import cli as world
from pairsift.world.teacher import build, load_teacher
from pairsift.world.teacher.build import BuildResult, train_teacher
from pairsift.world.teacher.train import TrainConfig


def test_train_teacher_writes_weights_config_metrics_and_installs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "package"
    package.mkdir()
    monkeypatch.setattr(build, "PACKAGE_DIR", package)
    tc = TrainConfig(epochs=1, batch_size=32, seed=3, max_steps=2)
    result = train_teacher(
        tmp_path / "out", samples=100, train_config=tc, task_samples=14, eval_samples=20, install=True
    )
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result.metrics))
    assert set(metrics["zero_shot"]) == {"shape", "colour", "count"}
    assert metrics["retrieval"]["pairs"] == 20 and 0 <= metrics["retrieval"]["top1"] <= 1
    assert metrics["steps"] == 2 and metrics["weights_bytes"] == result.weights.stat().st_size
    config = json.loads(result.config.read_text())
    assert config["tau"] == pytest.approx(metrics["tau"]) and config["training"]["world"]["seed"] == 3
    assert sorted(p.name for p in package.iterdir()) == ["config.json", "tiny_world.safetensors"]
    load_teacher(directory=package)


def test_train_teacher_command_passes_its_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake(out_dir: str, **kwargs: Any) -> BuildResult:
        calls.append({"out_dir": out_dir, **kwargs})
        return BuildResult(Path(out_dir), Path(out_dir), {"zero_shot": {}})

    monkeypatch.setattr(build, "train_teacher", fake)
    parser = argparse.ArgumentParser(prog="pairsift")
    world.add_parser(parser.add_subparsers(dest="command", required=True))
    argv = ["world", "train-teacher", "-o", str(tmp_path), "--epochs", "2", "--samples", "300", "--seed", "4"]
    args = parser.parse_args([*argv, "--install"])
    assert args.func(args) == 0
    (call,) = calls
    assert call["samples"] == 300 and call["install"] is True
    assert call["train_config"] == TrainConfig(epochs=2, seed=4)
