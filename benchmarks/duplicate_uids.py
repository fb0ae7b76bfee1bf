"""The pool-wide duplicate-uid pass of ``pairsift score``: wall time and peak RSS over many score tables.

Writes ``--files`` score tables of ``--rows`` rows each (random 32-hex uids, a float32 score) into a scratch
run directory, copies ``--duplicates`` uids of earlier tables into later ones (half of them twice), then
runs :func:`pairsift.io.duplicate_uids.mark_duplicates` in a child process and reports its wall time, its
peak RSS, and the peak RSS of a child that only imports the same modules (the baseline), and checks that
exactly the injected copies were marked. The default (100 tables x 100,000 rows = 10M uids) is the size
the issue asks for.

    python benchmarks/duplicate_uids.py                    # 10M uids (~0.6 GB of scratch files)
    python benchmarks/duplicate_uids.py --bucket-rows 1000000   # more, smaller buckets: lower peak
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger("duplicate_uids")
MIB = 1024**2
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def random_uids(rng: np.random.Generator, rows: int) -> np.ndarray:
    """``rows`` random 32-hex uids as an ``S32`` array."""
    raw = rng.integers(0, 256, size=(rows, 16), dtype=np.uint8)
    text = np.empty((rows, 32), dtype=np.uint8)
    text[:, 0::2], text[:, 1::2] = HEX[raw >> 4], HEX[raw & 15]
    return text.view("S32").reshape(rows)


def write_tables(scores: Path, files: int, rows: int, duplicates: int, seed: int) -> int:
    """The score tables; returns how many rows repeat an earlier uid."""
    scores.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    uids = [random_uids(rng, rows) for _ in range(files)]
    for k in range(duplicates):  # a uid of an earlier table into a later one (every other: twice)
        src, dst = sorted(rng.choice(files, size=2, replace=False))
        value = uids[src][rng.integers(rows)]
        for target in [dst] + ([files - 1] if k % 2 and dst != files - 1 else []):
            uids[target][rng.integers(rows)] = value
    status = pa.array(["ok"] * rows, pa.string())
    for i, shard in enumerate(uids):
        score = rng.standard_normal(rows).astype(np.float32)
        column = pa.array(shard, pa.binary(32)).cast(pa.binary()).cast(pa.string())
        table = pa.table({"uid": column, "status": status, "score": score})
        pq.write_table(table, scores / f"{i:06d}.parquet", compression="zstd")
    everything = np.concatenate(uids)
    return len(everything) - len(np.unique(everything))


CHILD = """
import json, sys, time
from pathlib import Path
from pairsift.io import duplicate_uids
tables = sorted(Path(sys.argv[1]).glob("*.parquet"))
if sys.argv[3] == "baseline":
    report = {}
    seconds = 0.0
else:
    start = time.perf_counter()
    report = duplicate_uids.mark_duplicates(tables, Path(sys.argv[2]), bucket_rows=int(sys.argv[4])).to_dict()
    seconds = time.perf_counter() - start
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child would report its parent's peak
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "report": report}))
"""


def child(scores: Path, work: Path, mode: str, bucket_rows: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(scores), str(work), mode, str(bucket_rows)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--duplicates", type=int, default=10_000, help="uids copied into later tables")
    parser.add_argument("--bucket-rows", type=int, default=None, help="default: BUCKET_ROWS of the module")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from pairsift.io.duplicate_uids import BUCKET_ROWS

    bucket_rows = args.bucket_rows or BUCKET_ROWS
    with tempfile.TemporaryDirectory(prefix="pairsift-dups-") as scratch:
        scores, work = Path(scratch) / "scores", Path(scratch) / "work"
        start = time.perf_counter()
        injected = write_tables(scores, args.files, args.rows, args.duplicates, args.seed)
        logger.info("wrote %d tables x %d rows in %.1fs", args.files, args.rows, time.perf_counter() - start)
        base = child(scores, work, "baseline", bucket_rows)
        run = child(scores, work, "run", bucket_rows)
    report = run["report"]
    assert isinstance(report, dict)
    peak, base_peak = int(run["peak_bytes"]), int(base["peak_bytes"])  # type: ignore[call-overload]
    figures = {
        "uids": args.files * args.rows,
        "tables": args.files,
        "buckets": report["buckets"],
        "bucket_rows": bucket_rows,
        "injected_repeats": injected,
        "marked": report["rows"],
        "seconds": round(float(run["seconds"]), 2),  # type: ignore[arg-type]
        "peak_rss_mib": round(peak / MIB),
        "baseline_rss_mib": round(base_peak / MIB),
        "pass_rss_mib": round((peak - base_peak) / MIB),
    }
    print(json.dumps(figures, indent=2))
    if report["rows"] != injected:
        sys.exit(f"marked {report['rows']} rows, expected {injected}")


if __name__ == "__main__":
    main()
