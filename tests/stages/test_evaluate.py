"""``pairsift evaluate`` with clip_benchmark: a tiny task in its webdataset layout built here, the world's
tasks, and bad task folders."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from pairsift import api
from pairsift.cli.main import main
from pairsift.errors import InputError
from pairsift.world.wds_tasks import write_world_tasks


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def make_task(root: Path) -> Path:
    """clip_benchmark's layout by hand: classnames, templates, test/nshards.txt and test/0.tar."""
    task = root / "squares"
    (task / "test").mkdir(parents=True)
    (task / "classnames.txt").write_text("red\nblue\n")
    (task / "zeroshot_classification_templates.txt").write_text("a photo of a {c} object.\na {c} shape.\n")
    (task / "test" / "nshards.txt").write_text("1\n")
    with tarfile.open(task / "test" / "0.tar", "w") as tar:
        for i in range(6):
            label = i % 2
            for ext, data in (
                ("png", _png((220, 20, 20) if label == 0 else (20, 20, 220))),
                ("cls", b"%d" % label),
            ):
                info = tarfile.TarInfo(f"{i:04d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return task


def test_evaluate_a_handmade_task_and_the_world_tasks(
    student: Path, tiny_world: Path, tmp_path: Path
) -> None:
    handmade = make_task(tmp_path)
    write_world_tasks(tiny_world, tmp_path / "wds", retrieval_pool=tiny_world / "pool")
    out = tmp_path / "results.json"
    result = api.evaluate(str(student), [str(handmade), str(tmp_path / "wds")], output=str(out), device="cpu")
    record = json.loads(out.read_text())
    assert set(record["tasks"]) == {"squares", "colour", "retrieval"}
    assert all(0 <= v <= 1 for v in record["tasks"].values())
    assert record["average"] == pytest.approx(sum(record["tasks"].values()) / 3)
    assert record["details"]["squares"]["samples"] == 6
    assert record["details"]["colour"]["samples"] == 24
    assert record["details"]["retrieval"]["kind"] == "retrieval"
    assert result.model == "pairsift-tiny-world"


def test_an_epoch_file_evaluates_too(student: Path, tmp_path: Path) -> None:
    handmade = make_task(tmp_path)
    result = api.evaluate(str(student / "run" / "checkpoints" / "epoch_1.pt"), [str(handmade)], device="cpu")
    assert [t.task for t in result.tasks] == ["squares"]


def test_missing_task_folder_is_named(student: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"task folder .*nowhere: no such directory"):
        api.evaluate(str(student), [str(tmp_path / "nowhere")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a clip_benchmark webdataset task"):
        api.evaluate(str(student), [str(tmp_path / "empty")])


def test_missing_checkpoint_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_task(tmp_path)
    argv = [
        "evaluate",
        str(tmp_path / "none"),
        "-o",
        str(tmp_path / "r.json"),
        "--tasks",
        str(tmp_path / "squares"),
    ]
    assert main(argv) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "none: no such file or directory" in errors[0]
