"""``pairsift run`` (score -> select -> reshard) and ``pairsift report`` with input and output on ``s3://``
(a real S3 API: moto's server on loopback, through s3fs) write the same bytes as the same run on local
disk, also when the run is killed with SIGKILL midway and rerun."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pairsift.cli import main
from pairsift.world.synth import SynthConfig, write_pool
from tests.s3_server import download_tree, s3_env, upload_tree
from tests.stages.test_reshard import make_sample, write_tar

RECIPE = (
    "embeddings: l14\nscorers: [clip_score, 'neg_clip_loss:k=4']\nengine: {{workers: 1}}\n"
    "compute: {{device: cpu}}\nselect:\n  rules:\n    - top: clip_score=0.3\n"
    "reshard:\n  input: {tars}\n  output: {out}\n  shard_size: 40\n"
)


def write_inputs(root: Path) -> tuple[Path, Path]:
    """A tiny pool of 6 shards and a webdataset tar per shard holding its samples."""
    pool = write_pool(root / "pool", SynthConfig(shards=6, rows_per_shard=200, dim=32))
    tars = root / "tars"
    tars.mkdir()
    rng = random.Random(0)
    for path in sorted(pool.glob("*.parquet")):
        uids = pq.read_table(path, columns=["uid"]).column(0).to_pylist()
        write_tar(tars / f"{path.stem}.tar", [make_sample(f"{i:06d}", u, rng) for i, u in enumerate(uids)])
    return pool, tars


def run_args(recipe: Path, root: str) -> list[str]:
    return ["run", str(recipe), "--pool", f"{root}/pool", "-o", f"{root}/run"]


def report_args(root: str) -> list[str]:
    subset = f"{root}/run/subset.npy"
    return [
        "report",
        f"{root}/run",
        "-o",
        f"{root}/report.html",
        "--images",
        "",
        "--labels",
        "",
        "--subset",
        subset,
    ]


def outputs(files: dict[str, bytes], root: str) -> dict[str, bytes]:
    """The run's output files by relative name, with the root (a folder or ``s3://bucket``) in text files
    replaced by ``ROOT`` (run.json and the records name their inputs and outputs)."""
    kept = {}
    for name, data in files.items():
        if name.split("/")[0] not in ("run", "out", "report.html") or "/." in f"/{name}":
            continue  # inputs, and local-only bookkeeping (.lock, .work)
        if name.endswith((".json", ".html")):  # the report's title names the run's last two parts
            data = data.replace(root.encode(), b"ROOT").replace(root.rsplit("/", 1)[-1].encode(), b"ROOT")
        kept[name] = data
    return kept


def local_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    return write_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory) -> dict[str, bytes]:
    """The same run and report on local disk."""
    root = tmp_path_factory.mktemp("local")
    pool, tars = inputs
    os.symlink(pool, root / "pool")
    (root / "recipe.yaml").write_text(RECIPE.format(tars=tars, out=root / "out"))
    assert main(["-q", *run_args(root / "recipe.yaml", str(root))]) == 0
    assert main(["-q", *report_args(str(root))]) == 0
    found = outputs(local_tree(root), str(root))
    return {k: v.replace(str(tars).encode(), b"ROOT/tars") for k, v in found.items()}


def put_inputs(server, bucket: str, inputs: tuple[Path, Path], recipe: Path) -> str:
    """Upload the pool and the tars into ``bucket``; write the recipe (a local file) for it."""
    root = f"s3://{bucket}"
    fs = server.filesystem()
    pool, tars = inputs
    upload_tree(fs, pool, f"{root}/pool")
    upload_tree(fs, tars, f"{root}/tars")
    recipe.write_text(RECIPE.format(tars=f"{root}/tars", out=f"{root}/out"))
    return root


def test_a_run_on_s3_writes_the_bytes_of_a_local_run(s3, inputs, reference, tmp_path):
    server, bucket = s3
    recipe = tmp_path / "recipe.yaml"
    root = put_inputs(server, bucket, inputs, recipe)
    assert main(["-q", *run_args(recipe, root)]) == 0
    assert main(["-q", *report_args(root)]) == 0
    found = outputs(download_tree(server.filesystem(), root), root)
    assert sorted(found) == sorted(reference)
    assert found == reference
    assert not [k for k in download_tree(server.filesystem(), root) if k.endswith(".tmp")]
    # a rerun resumes: every shard is done, nothing is rewritten (the reshard summary says so)
    assert main(["-q", *run_args(recipe, root)]) == 0
    again = outputs(download_tree(server.filesystem(), root), root)
    assert json.loads(again.pop("out/summary.json"))["skipped"] == 6
    assert again == {k: v for k, v in reference.items() if k != "out/summary.json"}


def test_a_run_on_s3_killed_midway_then_rerun_writes_the_same_bytes(s3, inputs, reference, tmp_path):
    server, bucket = s3
    recipe = tmp_path / "recipe.yaml"
    root = put_inputs(server, bucket, inputs, recipe)
    env = {**os.environ, **s3_env(server.endpoint), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "pairsift.cli", "-q", *run_args(recipe, root)]
    proc = subprocess.Popen(command, env=env)
    fs = server.filesystem()
    deadline = time.monotonic() + 120
    tables = 0
    while proc.poll() is None and time.monotonic() < deadline and tables < 2:
        fs.invalidate_cache()
        tables = len(fs.glob(f"{bucket}/run/scores/*.parquet"))
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed midway"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    fs.invalidate_cache()
    assert not fs.exists(f"{bucket}/run/subset.npy")  # killed inside the score stage
    subprocess.run(command, env=env, check=True)
    subprocess.run([sys.executable, "-m", "pairsift.cli", "-q", *report_args(root)], env=env, check=True)
    assert outputs(download_tree(server.filesystem(), root), root) == reference
