"""Issue 16: the local engine's worker processes die with their parent (kill -9 of the main process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from tests import pools
from tests.hostile.helpers import PLUGIN, alive, pairsift, wait_for

LINUX = sys.platform.startswith("linux")


@pytest.mark.skipif(not LINUX, reason="reads process trees through psutil on Linux")
def test_workers_die_when_the_main_process_is_killed(tmp_path):
    pool = pools.make_pool(tmp_path / "pool", shards=4, rows=4)
    hold = tmp_path / "hold"
    hold.touch()  # every shard waits while this exists: the workers are busy when the kill comes
    main = pairsift(
        "score", str(pool), "-o", str(tmp_path / "run"), "--device", "cpu", "--workers", "2",
        "--plugin", PLUGIN, "--scorer", f"hostile_hold:hold_while={hold},limit=120",
    )  # fmt: skip
    try:
        started = lambda: sorted(tmp_path.glob("hold.*.started"))  # noqa: E731
        wait_for(lambda: len(started()) == 2, 90, "two workers scoring")
        workers = [int(p.name.split(".")[1]) for p in started()]
        children = {c.pid for c in psutil.Process(main.pid).children(recursive=True)}
        assert set(workers) <= children and main.pid not in workers
        os.kill(main.pid, signal.SIGKILL)
        main.wait(10)
        wait_for(lambda: not any(alive(pid) for pid in children), 5, f"the workers {sorted(children)} to die")
    finally:
        for pid in [main.pid, *children] if "children" in locals() else [main.pid]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        main.wait(10)


ORPHAN = """
import os, subprocess, sys
child = '''
import os, sys, time
import pairsift.engines.local as local
if sys.argv[1] == "watchdog":
    local._set_parent_death_signal = lambda: False  # as on a system without prctl
local.die_with_parent(int(sys.argv[2]))
print("ready", flush=True)
time.sleep(60)
'''
proc = subprocess.Popen([sys.executable, "-c", child, sys.argv[1], str(os.getpid())], stdout=sys.stdout)
print(proc.pid, flush=True)
proc.wait()
"""


@pytest.mark.parametrize("how", ["pdeathsig", "watchdog"])
def test_die_with_parent_ends_an_orphan(how):
    if how == "pdeathsig" and not LINUX:
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN, how], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    try:
        assert parent.stdout.readline().strip() == "ready"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        wait_for(lambda: not alive(worker), 5, f"the orphan {worker} to exit")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_a_worker_whose_parent_is_already_gone_exits_at_once():
    code = (
        "import os, pairsift.engines.local as l; l.die_with_parent(os.getppid() + 1_000_000); print('alive')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")  # exited quietly, at once
