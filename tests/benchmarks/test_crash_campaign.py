"""The crash campaign's quick mode: kill -9 (group and main pid), rerun, same bytes, nothing left."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_campaign_finds_nothing() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "crash_campaign.py"), "--quick", "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    total = next(line.split() for line in lines if line.split()[:1] == ["all"])
    assert total[1] == "3"  # trials
    assert total[3:] == ["0"] * 5  # differing, partial, leftover, stray, failed
