"""A scoring run killed with SIGKILL at any moment and rerun gives byte-identical score files.

The rerun uses one thread where the first run used the default (all cores): a resumed run may land on
another machine, and BLAS may use fewer threads than asked for under load, so the bytes must not depend
on the thread count.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pairsift.world.synth import SynthConfig, write_pool

SCORERS = ["clip_score", "neg_clip_loss:k=6,batch_size=512", "norm_sim_d:iters=4"]


def command(pool: Path, out: Path) -> list[str]:
    args = [sys.executable, "-m", "pairsift.cli", "-q", "score", str(pool), "-o", str(out), "--device", "cpu"]
    for spec in SCORERS:
        args += ["--scorer", spec]
    return args


def files(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "scores").glob("*.parquet"))}


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    return write_pool(tmp_path_factory.mktemp("pool"), SynthConfig(shards=10, rows_per_shard=1500, dim=48))


@pytest.fixture(scope="module")
def uninterrupted(pool, tmp_path_factory) -> dict[str, bytes]:
    run = tmp_path_factory.mktemp("clean") / "run"
    subprocess.run(command(pool, run), check=True)
    return files(run)


@pytest.mark.parametrize("when", ["first_shard", "staging_half", "pool_stage"])
def test_rerun_after_sigkill_is_byte_identical(when, pool, uninterrupted, tmp_path):
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(command(pool, run), env=env)
    staging = run / ".staging"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        staged = len(list(staging.glob("*.parquet"))) if staging.exists() else 0
        if (
            (when == "first_shard" and staged >= 1)
            or (when == "staging_half" and staged >= 5)
            or (when == "pool_stage" and staged >= 10)
        ):
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(command(pool, run), check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert files(run) == uninterrupted
    assert not list(run.rglob(".*.tmp"))
    assert not list(staging.glob("*.parquet"))
