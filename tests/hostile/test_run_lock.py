"""Issue 16: one process at a time scores into a run folder; a lock left by a dead process never blocks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pairsift.errors import RunConfigError
from pairsift.io.run_dir import RunDir
from tests import pools
from tests.hostile.helpers import PLUGIN, pairsift, wait_for

MANIFEST = {"scoring": {"pool": "p", "scorers": ["clip_score"]}}

HOLDER = """
import json, sys, time
from pairsift.io.run_dir import RunDir
run = RunDir(sys.argv[1])
run.prepare(json.loads(sys.argv[2]))
print("locked", flush=True)
time.sleep(60)
"""


def hold_in_child(path: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), json.dumps(MANIFEST)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    return child


def test_a_second_process_is_refused_at_once_naming_the_holder(tmp_path):
    child = hold_in_child(tmp_path / "run")
    try:
        start = time.monotonic()
        with pytest.raises(RunConfigError) as caught:
            RunDir(tmp_path / "run").prepare(MANIFEST)
        assert time.monotonic() - start < 1
        message = str(caught.value)
        assert f"pid {child.pid} on {socket.gethostname()}" in message and "started 20" in message
        assert str(tmp_path / "run" / ".lock") in message
    finally:
        child.kill()
        child.wait(10)


def test_the_lock_of_a_killed_process_never_blocks(tmp_path):
    child = hold_in_child(tmp_path / "run")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert str(child.pid) in (tmp_path / "run" / ".lock").read_text()  # its record is still there ...
    run = RunDir(tmp_path / "run")
    assert run.prepare(MANIFEST) is True  # ... but the kernel dropped its flock: resuming
    assert json.loads((tmp_path / "run" / ".lock").read_text())["pid"] == os.getpid()
    run.close()


def test_one_process_may_reopen_its_own_run_and_releases_it_when_done(tmp_path):
    first, second = RunDir(tmp_path / "run"), RunDir(tmp_path / "run")
    first.prepare(MANIFEST)
    second.prepare(MANIFEST)  # e.g. a rerun after an error whose traceback keeps ``first`` alive
    first.close()
    code = f"from pairsift.io.run_dir import RunDir; RunDir({str(tmp_path / 'run')!r}).lock()"
    still = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert still.returncode != 0 and "in use by another run" in still.stderr
    second.close()
    with RunDir(tmp_path / "run"):
        pass
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_two_score_processes_into_one_run(tmp_path):
    pool = pools.make_pool(tmp_path / "pool", shards=3, rows=4)
    hold = tmp_path / "hold"
    hold.touch()
    args = (
        "score", str(pool), "-o", str(tmp_path / "run"), "--device", "cpu",
        "--plugin", PLUGIN, "--scorer", f"hostile_hold:hold_while={hold},limit=120",
    )  # fmt: skip
    first = pairsift(*args)
    try:
        wait_for(lambda: list(tmp_path.glob("hold.*.started")), 90, "the first run to score")
        second = pairsift(*args)
        _, err = second.communicate(timeout=90)
        assert second.returncode == 2
        assert f"is in use by another run (pid {first.pid} on {socket.gethostname()}" in err.decode()
        assert first.poll() is None  # still scoring, alone
        hold.unlink()
        assert first.wait(90) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    scorers = {p.name.split(".")[1] for p in tmp_path.glob("hold.*.started")}
    assert scorers == {str(first.pid)}  # every shard was scored by the first run only
    assert len(list((tmp_path / "run" / "scores").glob("*.parquet"))) == 3
