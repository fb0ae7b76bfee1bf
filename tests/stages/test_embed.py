"""``pairsift embed``: embeddings equal the model's own, statuses, inputs, resume, then scoring."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from pairsift.cli import embed as embed_command
from pairsift.errors import ConfigError
from pairsift.io.raw import derived_uid
from pairsift.models.openclip import OpenClipEncoder
from pairsift.stages.embed import EmbedConfig, EmbedShardTask, TargetOptions, embed, embed_targets
from pairsift.stages.score import score
from tests.embed_data import MIXED_STATUS, image_bytes, mixed_tar, write_tar
from tests.models.tiny import tiny_open_clip, write_local_dir


@pytest.fixture(scope="module")
def tiny() -> Any:
    model, preprocess, tokenizer = tiny_open_clip(seed=3)
    return model, preprocess, tokenizer, OpenClipEncoder(model, preprocess, tokenizer)


def config(input: Path, output: Path | str, **kw: Any) -> EmbedConfig:
    options: dict[str, Any] = {
        "model": "open_clip:tiny",
        "batch_size": 2,
        "num_workers": 0,
        "device": "cpu",
        "dtype": "float32",
        "max_pixels": 5000,
    }
    return EmbedConfig(input=str(input), output=str(output), **{**options, **kw})


def read_pool(out: Path, shard: str, family: str = "tiny") -> tuple[pa.Table, np.ndarray, np.ndarray]:
    with np.load(out / f"{shard}.npz") as npz:
        return pq.read_table(out / f"{shard}.parquet"), npz[f"{family}_img"], npz[f"{family}_txt"]


def reference(tiny: Any, image: bytes, caption: str) -> tuple[np.ndarray, np.ndarray]:
    model, preprocess, tokenizer, _ = tiny
    pixels = preprocess(Image.open(io.BytesIO(image)).convert("RGB"))[None]
    with torch.no_grad():
        img = model.encode_image(pixels, normalize=True)[0].numpy()
        txt = model.encode_text(tokenizer([caption]), normalize=True)[0].numpy()
    return img, txt


def test_webdataset_embeddings_equal_the_models_own(tmp_path: Path, tiny: Any) -> None:
    tar = mixed_tar(tmp_path / "in" / "shard-a.tar")
    summary = embed(config(tar.parent, tmp_path / "pool"), encoder=tiny[3])
    assert summary.ok and summary.rows == 6
    assert summary.statuses == {"corrupt_image": 1, "empty_caption": 1, "image_too_large": 1, "ok": 3}
    table, img, txt = read_pool(tmp_path / "pool", "shard-a")
    assert table.column("status").to_pylist() == MIXED_STATUS
    assert table.column("uid").to_pylist()[0] == f"{1:032x}"
    assert table.column("uid").to_pylist()[1] == hashlib.blake2b(b"shard-a/0001", digest_size=16).hexdigest()
    assert table.column("url").to_pylist()[:2] == ["https://example.com/0.png", None]
    assert table.column("original_width").to_pylist() == [40, 40, None, 40, 100, 40]
    assert table.column("key").to_pylist() == [f"{i:04d}" for i in range(6)]
    for row, ext in ((0, "png"), (1, "png"), (5, "jpg")):
        data = image_bytes(row, fmt="JPEG" if ext == "jpg" else "PNG")
        want_img, want_txt = reference(tiny, data, table.column("text")[row].as_py())
        np.testing.assert_allclose(img[row], want_img, atol=1e-5)
        np.testing.assert_allclose(txt[row], want_txt, atol=1e-5)
    assert np.isnan(img[[2, 4]]).all() and np.isfinite(txt[[2, 4]]).all()  # bad image: text still embedded
    assert np.isnan(txt[3]).all() and np.isfinite(img[3]).all()  # empty caption: image still embedded


def test_decoding_workers_give_identical_files(tmp_path: Path, tiny: Any) -> None:
    tar = mixed_tar(tmp_path / "in" / "s.tar")
    embed(config(tar.parent, tmp_path / "serial"), encoder=tiny[3])
    embed(config(tar.parent, tmp_path / "workers", num_workers=2, prefetch=1), encoder=tiny[3])
    for name in ("s.parquet", "s.npz"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "workers" / name).read_bytes()


def test_folder_inputs_jsonl_and_csv(tmp_path: Path, tiny: Any) -> None:
    folder = tmp_path / "folder"
    (folder / "img").mkdir(parents=True)
    for i in range(3):
        (folder / "img" / f"{i}.png").write_bytes(image_bytes(i))
    rows = [
        {"file_name": "img/0.png", "caption": "a red photo", "uid": f"{7:032x}"},
        {"file_name": "img/1.png", "text": "a cat"},
    ]
    (folder / "part1.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    with open(folder / "part2.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["file_name", "caption"])
        writer.writeheader()
        writer.writerows(
            [{"file_name": "img/2.png", "caption": "blue"}, {"file_name": "img/gone.png", "caption": "x"}]
        )
    summary = embed(config(folder, tmp_path / "pool"), encoder=tiny[3])
    assert summary.ok and summary.statuses == {"missing_image": 1, "ok": 3}
    t1, img1, txt1 = read_pool(tmp_path / "pool", "part1")
    assert t1.column("uid").to_pylist() == [f"{7:032x}", derived_uid("part1", "img/1.png")]
    want_img, want_txt = reference(tiny, image_bytes(1), "a cat")
    np.testing.assert_allclose(img1[1], want_img, atol=1e-5)
    np.testing.assert_allclose(txt1[1], want_txt, atol=1e-5)
    t2, img2, _ = read_pool(tmp_path / "pool", "part2")
    assert t2.column("status").to_pylist() == ["ok", "missing_image"] and np.isnan(img2[1]).all()


def test_parquet_input_with_bytes_and_paths(tmp_path: Path, tiny: Any) -> None:
    src = tmp_path / "pq"
    src.mkdir()
    (src / "a.png").write_bytes(image_bytes(5))
    pq.write_table(
        pa.table({"image": [image_bytes(4), b"junk"], "caption": ["a photo", "a cat"]}), src / "bytes.parquet"
    )
    pq.write_table(
        pa.table({"image_path": ["a.png"], "text": ["red"], "uid": [f"{9:032x}"]}), src / "paths.parquet"
    )
    summary = embed(config(src, tmp_path / "pool"), encoder=tiny[3])
    assert summary.ok and summary.statuses == {"corrupt_image": 1, "ok": 2}
    table, img, _ = read_pool(tmp_path / "pool", "bytes")
    assert table.column("status").to_pylist() == ["ok", "corrupt_image"]
    np.testing.assert_allclose(img[0], reference(tiny, image_bytes(4), "a photo")[0], atol=1e-5)
    table, img, _ = read_pool(tmp_path / "pool", "paths")
    assert table.column("uid").to_pylist() == [f"{9:032x}"]
    np.testing.assert_allclose(img[0], reference(tiny, image_bytes(5), "red")[0], atol=1e-5)


def test_resume_after_a_shard_fails_midway(
    tmp_path: Path, tiny: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i, name in enumerate(("s0", "s1", "s2")):
        mixed_tar(tmp_path / "in" / f"{name}.tar", offset=10 * i)
    embed(config(tmp_path / "in", tmp_path / "fresh"), encoder=tiny[3])
    original: Callable[..., Any] = EmbedShardTask.__call__

    def flaky(self: EmbedShardTask, shard: str) -> Any:
        if shard == "s1":
            raise RuntimeError("killed midway")
        return original(self, shard)

    monkeypatch.setattr(EmbedShardTask, "__call__", flaky)
    first = embed(config(tmp_path / "in", tmp_path / "pool"), encoder=tiny[3])
    assert [f.shard for f in first.failures] == ["s1"]
    assert not (tmp_path / "pool" / "s1.parquet").exists()
    done = (tmp_path / "pool" / "s0.parquet").stat().st_mtime_ns
    monkeypatch.setattr(EmbedShardTask, "__call__", original)
    second = embed(config(tmp_path / "in", tmp_path / "pool"), encoder=tiny[3])
    assert second.ok and (second.processed, second.skipped) == (1, 2)
    assert (tmp_path / "pool" / "s0.parquet").stat().st_mtime_ns == done
    for name in ("s0", "s1", "s2"):
        for ext in ("parquet", "npz"):
            assert (tmp_path / "pool" / f"{name}.{ext}").read_bytes() == (
                tmp_path / "fresh" / f"{name}.{ext}"
            ).read_bytes()
    assert not list((tmp_path / "pool").glob(".*.tmp"))


def test_a_pool_embedded_with_another_family_is_refused(tmp_path: Path, tiny: Any) -> None:
    tar = mixed_tar(tmp_path / "in" / "s.tar")
    embed(config(tar.parent, tmp_path / "pool"), encoder=tiny[3])
    with pytest.raises(ConfigError, match="embedded with"):
        embed(config(tar.parent, tmp_path / "pool", family="other"), encoder=tiny[3])


def test_embedded_pool_is_scored(tmp_path: Path, tiny: Any, score_config: Callable[..., Any]) -> None:
    mixed_tar(tmp_path / "in" / "s.tar")
    embed(config(tmp_path / "in", tmp_path / "pool", dtype="float16"), encoder=tiny[3])
    summary = score(score_config(tmp_path / "pool", tmp_path / "run", "clip_score", embeddings="tiny"))
    assert summary.ok
    scores = pq.read_table(tmp_path / "run" / "scores" / "s.parquet")
    assert scores.column("status").to_pylist() == ["ok", "ok", "nan_image", "nan_text", "nan_image", "ok"]
    _, img, txt = read_pool(tmp_path / "pool", "s")
    got = scores.column("clip_score").to_numpy()
    ok = [0, 1, 5]
    want = np.einsum("ij,ij->i", img[ok].astype(np.float32), txt[ok].astype(np.float32))
    np.testing.assert_allclose(got[ok], want, atol=2e-3)
    assert np.isnan(got[[2, 3, 4]]).all()


def test_embed_targets_from_an_image_folder(tmp_path: Path, tiny: Any) -> None:
    folder = tmp_path / "targets"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(image_bytes(20 + i))
    (folder / "3.jpg").write_bytes(b"broken")
    counts = embed_targets(
        str(folder),
        tmp_path / "t.npy",
        "open_clip:tiny",
        options=TargetOptions(num_workers=0),
        encoder=tiny[3],
    )
    assert counts == {"corrupt_image": 1, "ok": 3}
    targets = np.load(tmp_path / "t.npy")
    assert targets.dtype == np.float32 and targets.shape == (3, 16)
    np.testing.assert_allclose(targets[1], reference(tiny, image_bytes(21), "x")[0], atol=1e-5)


def test_commands_load_a_model_by_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = write_local_dir(tmp_path / "model", seed=3)
    mixed_tar(tmp_path / "in" / "s.tar")
    parser = argparse.ArgumentParser()
    embed_command.add_parser(parser.add_subparsers())
    model = f"open_clip:local-dir:{model_dir}"
    args = parser.parse_args(
        [
            "embed",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "pool"),
            "--model",
            model,
            "--device",
            "cpu",
            "--num-workers",
            "0",
            "--max-pixels",
            "5000",
        ]
    )
    assert args.func(args) == 0
    assert "ok=3" in capsys.readouterr().out
    with np.load(tmp_path / "pool" / "s.npz") as npz:
        assert npz["model_img"].dtype == np.float16 and npz["model_img"].shape == (6, 16)
    args = parser.parse_args(
        [
            "embed-targets",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "t.npy"),
            "--model",
            model,
            "--device",
            "cpu",
            "--num-workers",
            "0",
            "--max-pixels",
            "5000",
        ]
    )
    assert args.func(args) == 0
    assert np.load(tmp_path / "t.npy").shape == (4, 16)


def test_empty_and_no_input(tmp_path: Path, tiny: Any) -> None:
    write_tar(tmp_path / "in" / "empty.tar", [])
    summary = embed(config(tmp_path / "in", tmp_path / "pool"), encoder=tiny[3])
    table, img, _ = read_pool(tmp_path / "pool", "empty")
    assert summary.ok and table.num_rows == 0 and img.shape == (0, 16)


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path: Path) -> None:
    """A real process killed with SIGKILL mid-run; the rerun completes and equals an uninterrupted run."""
    model = f"open_clip:local-dir:{write_local_dir(tmp_path / 'model', seed=3)}"
    for i in range(8):
        mixed_tar(tmp_path / "in" / f"s{i}.tar", offset=10 * i)
    cfg = {"model": model, "num_workers": 0, "batch_size": 2, "device": "cpu", "max_pixels": 5000}
    code = (
        "import sys, time\n"
        "from pairsift.stages.embed import EmbedConfig, embed, EmbedShardTask\n"
        "call = EmbedShardTask.__call__\n"
        "def slow(self, shard):\n"
        "    time.sleep(0.5)\n"
        "    return call(self, shard)\n"
        "EmbedShardTask.__call__ = slow\n"
        f"embed(EmbedConfig(input={str(tmp_path / 'in')!r}, output={str(tmp_path / 'pool')!r}, **{cfg!r}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=Path(__file__).parents[1])
    deadline = time.monotonic() + 120
    while not (tmp_path / "pool" / "s1.parquet").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the embedding process ended early"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in (tmp_path / "pool").glob("*.parquet"))
    assert 2 <= len(done) < 8
    resumed = embed(EmbedConfig(input=str(tmp_path / "in"), output=str(tmp_path / "pool"), **cfg))
    assert resumed.ok and resumed.skipped == len(done)
    embed(EmbedConfig(input=str(tmp_path / "in"), output=str(tmp_path / "fresh"), **cfg))
    for i in range(8):
        for ext in ("parquet", "npz"):
            name = f"s{i}.{ext}"
            assert (tmp_path / "pool" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes()
    assert not list((tmp_path / "pool").glob(".*.tmp"))


def test_embed_outputs_on_s3_equal_local_ones(tmp_path: Path, tiny: Any, s3: Any) -> None:
    """An embed output and a target file on ``s3://`` (a real S3 API on loopback) hold the local bytes;
    the rerun skips the shard, and the pool is scored from the bucket."""
    from tests.s3_server import download_tree

    server, bucket = s3
    tar = mixed_tar(tmp_path / "in" / "s.tar")
    embed(config(tar.parent, tmp_path / "local"), encoder=tiny[3])
    url = f"s3://{bucket}/pool"
    assert embed(config(tar.parent, url), encoder=tiny[3]).processed == 1
    assert embed(config(tar.parent, url), encoder=tiny[3]).skipped == 1
    remote = download_tree(server.filesystem(), url)
    assert sorted(remote) == ["embed.json", "s.npz", "s.parquet"]
    for name in ("s.npz", "s.parquet"):
        assert remote[name] == (tmp_path / "local" / name).read_bytes()
    options = TargetOptions(num_workers=0)
    embed_targets(str(tar.parent), tmp_path / "t.npy", "open_clip:tiny", options=options, encoder=tiny[3])
    embed_targets(str(tar.parent), f"s3://{bucket}/t.npy", "open_clip:tiny", options=options, encoder=tiny[3])
    assert server.filesystem().cat_file(f"{bucket}/t.npy") == (tmp_path / "t.npy").read_bytes()
