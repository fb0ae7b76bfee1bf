"""Issue 16 (8b): a write that fails for lack of space is one clear error naming the output, exit 2, no
traceback, nothing under the final name, an earlier good output untouched.

The failure is real, not mocked: each command runs in a subprocess under a file size limit
(``RLIMIT_FSIZE``; Python ignores SIGXFSZ, so a write past it fails with EFBIG, as a full disk fails with
ENOSPC). Every writer goes through :func:`pairsift.io.fs.atomic_write`, which treats both alike.
"""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from pairsift.errors import OutputError
from pairsift.io.fs import atomic_write
from pairsift.select.selection import SelectConfig, select
from pairsift.stages.score import score
from pairsift.stages.score_config import ScoreConfig, ScorerSpec
from tests import pools
from tests.hostile.helpers import ROOT

pytestmark = pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")


def limited(limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``pairsift -q ARGS`` in a subprocess that may write no file beyond ``limit`` bytes."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)
    env = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pairsift.cli", "-q", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=cap,  # only setrlimit, before exec
        timeout=120,
    )


def assert_refused(done: subprocess.CompletedProcess[str], output: Path) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(lines) == 1, lines
    assert f"{output}: cannot write: file too large for the file size limit" in lines[0]
    assert not list(output.parent.glob(f".{output.name}.*.tmp"))  # no temporary left behind


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("disk_full")
    pool = pools.make_pool(root / "pool", shards=2, rows=300)
    score(ScoreConfig(pool=str(pool), output=str(root / "run"), scorers=(ScorerSpec("clip_score"),)))
    return root / "run"


def test_score_cannot_write_run_json(run, tmp_path):
    out = tmp_path / "fresh_run"
    done = limited(600, "score", str(run.parent / "pool"), "-o", str(out), "--scorer", "clip_score")
    assert_refused(done, out / "run.json")
    assert not (out / "run.json").exists() and not list((out / "scores").glob("*.parquet"))


def test_select_keeps_the_earlier_subset_and_record(run, tmp_path):
    out = tmp_path / "subset.npy"
    select(run, SelectConfig(rules=(("top", "clip_score=0.5"),), output=str(out)))
    before = out.read_bytes(), Path(f"{out}.json").read_bytes()
    done = limited(4096, "select", str(run), "-o", str(out), "--top", "clip_score=1.0")  # 600 rows: 9.7 kB
    assert_refused(done, out)
    assert (out.read_bytes(), Path(f"{out}.json").read_bytes()) == before


def test_report_writes_nothing_under_its_name(run, tmp_path):
    out = tmp_path / "report.html"
    done = limited(8192, "report", str(run), "-o", str(out), "--cards", "4", "--sample", "100")
    assert_refused(done, out)
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".txt", ".parquet"])
def test_uids_convert_writes_nothing_under_its_name(run, tmp_path, suffix):
    source = tmp_path / "all.npy"
    select(run, SelectConfig(rules=(("top", "clip_score=1.0"),), output=str(source)))
    out = tmp_path / f"all{suffix}"
    done = limited(2048, "uids", "convert", str(source), str(out))
    assert_refused(done, out)
    assert not out.exists()


def test_a_failed_read_inside_the_writer_is_not_a_full_disk(tmp_path):
    """Only the output's own write is reported as one; an error reading an input stays what it was."""

    def write(fh: object) -> None:
        raise OSError(errno.EIO, "input/output error", str(tmp_path / "input"))

    with pytest.raises(OSError) as caught:
        atomic_write(tmp_path / "out.bin", write)
    assert not isinstance(caught.value, OutputError)
    assert not list(tmp_path.iterdir())
