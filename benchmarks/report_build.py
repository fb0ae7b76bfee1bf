"""Size and build time of ``pairsift report`` as the run grows.

For each requested size, builds a synthetic run, selects two subsets with ``pairsift select``, then
runs ``pairsift report`` in a child process and prints the file size, the wall time and the child's
peak resident memory. Two kinds of run:

- ``pool``: a DataComp-layout synthetic pool (``pairsift.world.synth``: parquet with caption + URL, npz
  embeddings) scored with ``clip_score`` and ``norm_sim`` (p = inf) — the real pipeline; cards show
  caption and URL as text (no images);
- ``tables``: score tables written directly (uid, status, two float32 scores) — cheap to make at 10M
  rows; cards show uid and scores only.

    python benchmarks/report_build.py                              # 1M-row pool run, 10M-row tables run
    python benchmarks/report_build.py --pool-rows 100000 --table-rows 1000000
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pairsift.io.score_tables import score_table, write_score_table
from pairsift.select.selection import SelectConfig, select
from pairsift.stages.score import score
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec
from pairsift.uids import format_uids
from pairsift.world.synth import SynthConfig, write_pool, write_targets

logger = logging.getLogger("report_build")

SHARD_ROWS = 10_000


def pool_run(root: Path, rows: int) -> tuple[Path, tuple[tuple[str, str], ...]]:
    """Synthetic pool -> clip_score + norm_sim_inf scores (the real scoring pipeline)."""
    config = SynthConfig(shards=max(rows // SHARD_ROWS, 1), rows_per_shard=min(rows, SHARD_ROWS), dim=32)
    pool = write_pool(root / "pool", config)
    targets = write_targets(root / "targets.npy", config)
    scorers = (ScorerSpec("clip_score"), ScorerSpec("norm_sim", {"p": "inf", "target": str(targets)}))
    run = root / "run"
    score(ScoreConfig(pool=str(pool), output=str(run), scorers=scorers, compute=ComputeConfig(device="cpu")))
    return run, (("top", "norm_sim_inf=0.5"), ("top", "clip_score=0.3"))


def tables_run(root: Path, rows: int) -> tuple[Path, tuple[tuple[str, str], ...]]:
    """Score tables written directly: uid, status (1% not ok), two correlated float32 scores."""
    run = root / "run"
    rng = np.random.default_rng(0)
    for s in range(max(rows // SHARD_ROWS, 1)):
        n = min(rows, SHARD_ROWS)
        keys = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).astype(np.uint64)
        status = np.where(rng.random(n) < 0.01, "nan_image", "ok").astype(object)
        a = rng.standard_normal(n).astype(np.float32)
        b = (0.6 * a + 0.8 * rng.standard_normal(n)).astype(np.float32)
        a[status != "ok"] = b[status != "ok"] = np.nan
        table = score_table(format_uids(keys), status, {"score_a": a, "score_b": b})
        write_score_table(run / "scores" / f"{s:08d}.parquet", table)
    return run, (("top", "score_a=0.5"), ("top", "score_b=0.3"))


#: Runs the CLI and, at exit, prints the process's peak resident memory (VmHWM: the high-water mark of
#: its own address space; ru_maxrss would include the parent's, inherited through fork and exec).
CHILD = """
import atexit, sys
from pairsift.cli import main
def peak():
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print("peak-kib", line.split()[1], file=sys.stderr)
atexit.register(peak)
sys.exit(main(sys.argv[1:]))
"""


def run_child(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB) of ``pairsift ARGS`` in a child process."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"pairsift {' '.join(args)} failed:\n{done.stderr}")
    kib = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("peak-kib"))
    return seconds, kib / 1024


def measure(kind: str, rows: int, tmpdir: str | None) -> str:
    with tempfile.TemporaryDirectory(prefix="pairsift-report-", dir=tmpdir) as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        run, rules = (pool_run if kind == "pool" else tables_run)(root, rows)
        subsets = []
        for i, chosen in enumerate((rules[:1], rules)):
            subsets += ["--subset", str(root / f"subset-{i}.npy")]
            select(run, SelectConfig(rules=chosen, output=subsets[-1]))
        made = time.perf_counter() - start
        out = root / "report.html"
        seconds, peak = run_child(["-q", "report", str(run), "-o", str(out), *subsets])
        size = out.stat().st_size / 1e6
        return (
            f"{kind:<7}{rows:>12,}{size:>11.2f}{seconds:>11.1f}{peak:>16.0f}"
            f"      (run + 2 selections made in {made:.0f}s)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pool-rows", type=int, default=1_000_000, help="rows of the synthetic-pool run")
    parser.add_argument("--table-rows", type=int, default=10_000_000, help="rows of the score-tables run")
    parser.add_argument("--tmpdir", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(f"{'run':<7}{'rows':>12}{'size (MB)':>11}{'build (s)':>11}{'peak RSS (MiB)':>16}")
    for kind, rows in (("pool", args.pool_rows), ("tables", args.table_rows)):
        if rows > 0:
            print(measure(kind, rows, args.tmpdir), flush=True)
    print("build: wall time of `pairsift report` in a child process, interpreter start included;")
    print("peak RSS: that child's high-water resident memory (VmHWM).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
