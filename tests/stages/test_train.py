"""``pairsift train`` with open_clip's trainer on the tiny world: a few steps, resuming, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pairsift import api
from pairsift.cli.main import main
from pairsift.errors import ConfigError, InputError
from pairsift.io.subsets import write_subset
from pairsift.stages.train import TrainConfig, checkpoint_epoch, checkpoints_dir
from pairsift.uids import SUBSET_DTYPE
from pairsift.world import WorldConfig, generate
from pairsift.world.wds_tasks import write_classification_task
from tests.stages.conftest import FEW_STEPS


def test_train_writes_checkpoints_seed_and_budget(student: Path) -> None:
    record = json.loads((student / "train.json").read_text())
    assert record["status"] == "done" and record["epochs"] == 2
    assert record["config"]["seed"] == 3 and "--seed" in record["trainer_args"]
    assert record["samples_seen"] == 128 and record["train_samples"] == 200
    assert (student / "model" / "pairsift-tiny-world.json").is_file()
    for name in ("epoch_1.pt", "epoch_2.pt", "epoch_latest.pt"):
        assert (checkpoints_dir(student) / name).is_file()
    assert checkpoint_epoch(checkpoints_dir(student) / "epoch_latest.pt") == 2
    # open_clip's own trainer wrote its log: two epochs of two steps each
    log = (student / "run" / "out.log").read_text()
    assert "Train Epoch: 0" in log and "Train Epoch: 1" in log


def test_interrupted_train_resumes_from_the_last_checkpoint(student: Path, tmp_path: Path) -> None:
    """The state a run killed after its first epoch leaves: epoch_1.pt as the latest checkpoint."""
    out = tmp_path / "student"
    shutil.copytree(student, out)
    ckpts = checkpoints_dir(out)
    (ckpts / "epoch_2.pt").unlink()
    shutil.copy(ckpts / "epoch_1.pt", ckpts / "epoch_latest.pt")
    (out / "run" / "out.log").unlink()
    data = json.loads((out / "train.json").read_text())["config"]["data"]
    summary = api.train(data, str(out), model="pairsift-tiny-world", seed=3, **FEW_STEPS)
    assert summary.resumed_from == 1 and summary.epochs == 2
    assert (ckpts / "epoch_2.pt").is_file()
    log = (out / "run" / "out.log").read_text()
    assert "resuming checkpoint" in log and "(epoch 1)" in log
    assert "Train Epoch: 1" in log and "Train Epoch: 0" not in log  # only the missing epoch ran


def test_a_finished_train_is_not_run_again(student: Path, tiny_world: Path) -> None:
    summary = api.train(
        str(tiny_world / "pool"), str(student), model="pairsift-tiny-world", seed=3, **FEW_STEPS
    )
    assert summary.resumed_from == 2 and summary.epochs == 2


def test_a_rerun_may_change_threads_and_workers(student: Path, tiny_world: Path, tmp_path: Path) -> None:
    out = tmp_path / "student"
    shutil.copytree(student, out)
    options = {**FEW_STEPS, "threads": 1, "workers": 1, "seed": 3}
    summary = api.train(str(tiny_world / "pool"), str(out), model="pairsift-tiny-world", **options)
    assert summary.resumed_from == 2 and summary.epochs == 2


def test_other_settings_into_the_same_output_are_refused(student: Path, tiny_world: Path) -> None:
    with pytest.raises(ValueError, match="seed"):
        api.train(
            str(tiny_world / "pool"), str(student), model="pairsift-tiny-world", **{**FEW_STEPS, "seed": 4}
        )


def test_budget_smaller_than_one_batch_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"smaller than one global batch \(128"):
        TrainConfig("data", "out", samples_seen=100, batch_size=128, checkpoints=1)
    with pytest.raises(ConfigError, match="samples per epoch"):
        TrainConfig("data", "out", samples_seen=200, batch_size=128, checkpoints=2)


def test_empty_subset_is_refused(tiny_world: Path, tmp_path: Path) -> None:
    subset = write_subset(tmp_path / "empty.npy", np.zeros(0, dtype=SUBSET_DTYPE))
    with pytest.raises(InputError, match=r"empty\.npy is empty"):
        api.train(str(tiny_world / "pool"), str(tmp_path / "out"), subset=str(subset), **FEW_STEPS)


def test_subset_of_unknown_uids_is_refused(tiny_world: Path, tmp_path: Path) -> None:
    rows = np.zeros(3, dtype=SUBSET_DTYPE)
    rows["f0"], rows["f1"] = [1, 2, 3], [4, 5, 6]
    subset = write_subset(tmp_path / "other.npy", rows)
    with pytest.raises(InputError, match=r"none of its 3 uids are in the tars of"):
        api.train(str(tiny_world / "pool"), str(tmp_path / "out"), subset=str(subset), **FEW_STEPS)


def test_unknown_model_names_the_choices(tiny_world: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pairsift-tiny-world"):
        api.train(str(tiny_world / "pool"), str(tmp_path / "out"), model="no-such-model", **FEW_STEPS)


def test_cli_reports_one_error_and_exits_2(
    tiny_world: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    argv = [
        "train",
        str(tiny_world / "pool"),
        "-o",
        str(tmp_path / "o"),
        "--samples-seen",
        "10",
        "--batch-size",
        "32",
    ]
    assert main(argv) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "smaller than one global batch" in errors[0]


@pytest.mark.slow
def test_a_trained_student_beats_chance_on_the_colour_task(tmp_path: Path) -> None:
    """The loop learns: a student trained on a 600-sample world pool for 8192 samples seen classifies the
    colour task (12 classes, 120 test images: chance 8.3 %, one standard error 2.5 points) well above
    chance. Slow: about 90 CPU-seconds of training."""
    world = tmp_path / "world"
    generate(world, WorldConfig(samples=600, shard_size=300, seed=5, task_samples=120, tasks=("colour",)))
    task = write_classification_task(world / "tasks" / "colour", tmp_path / "wds" / "colour")
    out = tmp_path / "student"
    budget = {"samples_seen": 8192, "checkpoints": 1, "batch_size": 64, "workers": 0, "device": "cpu"}
    api.train(str(world / "pool"), str(out), model="pairsift-tiny-world", seed=0, threads=1, **budget)
    record = api.evaluate(str(out), [str(task)], device="cpu").to_dict()
    assert record["details"]["colour"]["samples"] == 120
    assert record["tasks"]["colour"] >= 0.2, record["tasks"]  # chance + 4.6 standard errors
