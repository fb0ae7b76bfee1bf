"""benchmarks/gpu_suite.py: its --dry-run (CPU, tiny sizes, ~30 s on 2 cores) produces every row."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_suite.py"
PRECISIONS = ("fp32", "tf32", "bf16", "fp16")
EXPECTED = [
    "env/device",
    "env/wall",
    *(f"gemm/{p}" for p in PRECISIONS),
    *(f"neg_clip_loss/{p}" for p in PRECISIONS),
    *(f"norm_sim_inf/{p}" for p in PRECISIONS),
    "norm_sim_d/fp32",
    *(f"embed/{m}/{path}" for m in ("ViT-B-32", "ViT-L-14") for path in ("cpu-workers", "gpu-decode")),
    "caption/blip-base",
    "projection/embed",
    "projection/neg_clip_loss",
    "projection/norm_sim_inf",
    "projection/total",
]


def run_suite(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Any]:
    out = tmp_path_factory.mktemp("gpu_suite") / "dry.json"
    done = run_suite("--dry-run", "--json", str(out))
    document = json.loads(out.read_text()) if out.exists() else None
    return done, document


def test_dry_run_exits_cleanly_and_prints_one_marked_table(dry_run):
    done, document = dry_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "DRY RUN" in done.stdout
    assert "FAILED" not in done.stdout
    assert document is not None and document["dry_run"] is True
    assert document["problems"] == []


def test_dry_run_produces_every_row_and_none_failed(dry_run):
    _, document = dry_run
    rows = {r["id"]: r for r in document["rows"]}
    assert sorted(rows) == sorted(EXPECTED)
    assert [r["id"] for r in document["rows"] if r["failed"] or r["value"].startswith("FAILED")] == []


def test_dry_run_errors_against_float64(dry_run):
    _, document = dry_run
    rows = {r["id"]: r for r in document["rows"]}
    for kernel in ("neg_clip_loss", "norm_sim_inf"):
        for precision in PRECISIONS:
            error = rows[f"{kernel}/{precision}"]["metrics"]["max_abs_error"]
            assert math.isfinite(error), (kernel, precision)
            if precision in ("fp32", "tf32"):  # tf32 is fp32 on a CPU
                assert error < 1e-4, (kernel, precision, error)
            else:
                assert error < 0.05, (kernel, precision, error)


def test_dry_run_projection_has_positive_times(dry_run):
    _, document = dry_run
    rows = {r["id"]: r for r in document["rows"]}
    for row_id in ("projection/embed", "projection/total"):
        assert rows[row_id]["metrics"]["seconds"] > 0
    for row_id in ("projection/neg_clip_loss", "projection/norm_sim_inf"):
        assert set(rows[row_id]["metrics"]) == set(PRECISIONS)
        assert all(v > 0 for v in rows[row_id]["metrics"].values())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_cuda_and_without_dry_run_it_refuses_with_status_2():
    done = run_suite(timeout=120)
    assert done.returncode == 2
    assert "no CUDA device" in done.stderr
