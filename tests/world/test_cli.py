from __future__ import annotations

import argparse
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pairsift.world import cli as world


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pairsift")
    world.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_world_generate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w"
    argv = ["world", "generate", "-o", str(out), "--samples", "30", "--shard-size", "12", "--seed", "3"]
    argv += ["--image-size", "32", "--task-samples", "4", "--task", "size", "--share", "boilerplate=0.4"]
    args = _parser().parse_args([*argv, "--json"])
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == 30 and summary["pool_tars"] == [
        "00000000.tar",
        "00000001.tar",
        "00000002.tar",
    ]
    assert summary["kinds"]["boilerplate"] == 12 and summary["tasks"] == {"size": {"train": 4, "test": 4}}
    config = json.loads((out / "world.json").read_text())
    assert config["image_size"] == 32 and config["shares"]["clean"] == pytest.approx(0.2)
    assert pq.read_table(out / "labels.parquet").num_rows == 30
    assert sorted(p.name for p in (out / "tasks").iterdir()) == ["size"]


def test_world_generate_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["world", "generate", "-o", str(tmp_path / "w"), "--samples", "10"])
    args.task_samples = 2
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "pool: 10 samples in 1 tars" in text and "shape (2 train, 2 test)" in text


def test_world_needs_a_subcommand_and_valid_shares(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["world"])
    args = _parser().parse_args(["world", "generate", "-o", str(tmp_path), "--share", "corrupt"])
    with pytest.raises(ValueError, match="KIND=FRACTION"):
        args.func(args)
