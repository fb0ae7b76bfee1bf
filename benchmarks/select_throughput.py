"""Exact global top-fraction over many score files: wall time and peak RSS of `pairsift select`.

Writes ``--files`` score tables of ``--rows`` rows each (uid, status, one float32 ``score`` column
drawn from a normal distribution, rounded to make ties) into a scratch run directory, then runs
``pairsift select RUN --top score=FRACTION`` in a subprocess and reports its wall time and peak RSS.
The default (1,000 files x 100,000 rows = 100M scores) is the acceptance size: target <= 1.5 GiB.

    python benchmarks/select_throughput.py            # 100M scores (~3 GB of scratch files)
    python benchmarks/select_throughput.py --files 20 # a quick look
    python benchmarks/select_throughput.py --engines local-1 local-2 ray   # the passes on each engine

``--engines`` runs the same selection once per engine (``local-N``: N local worker processes, ``ray``:
a local Ray with ``--ray-cpus`` CPUs started by the child) and checks that every subset file has the
same bytes. Peak RSS is the driver's (VmHWM) and the largest worker process's (``RUSAGE_CHILDREN``: the
local engine's workers; for Ray, its raylet and workers where the child reaped them). Per-shard cost:
wall time / files.
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

logger = logging.getLogger("select_throughput")
GIB = 1024**3
TARGET_RSS_GIB = 1.5
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def random_uids(rng: np.random.Generator, rows: int) -> pa.Array:
    raw = rng.integers(0, 256, size=(rows, 16), dtype=np.uint8)
    text = np.empty((rows, 32), dtype=np.uint8)
    text[:, 0::2], text[:, 1::2] = HEX[raw >> 4], HEX[raw & 15]
    binary = pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), rows, [None, pa.py_buffer(text.tobytes())])
    return binary.cast(pa.binary()).cast(pa.string())


def write_tables(run: Path, files: int, rows: int, seed: int) -> None:
    scores = run / "scores"
    scores.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    status = pa.array(["ok"] * rows, pa.string()).dictionary_encode().cast(pa.string())
    for i in range(files):
        values = np.round(rng.standard_normal(rows), 4).astype(np.float32)
        table = pa.table({"uid": random_uids(rng, rows), "status": status, "score": values})
        pq.write_table(table, scores / f"{i:06d}.parquet", compression="zstd")
        if (i + 1) % 100 == 0:
            logger.info("wrote %d/%d score tables", i + 1, files)
    (run / "run.json").write_text(json.dumps({"scorers": [{"column": "score", "higher_is_better": True}]}))


def engine_options(engine: str, ray_cpus: int) -> list[str]:
    """``local-N`` -> ``--workers N``; ``ray`` -> the Ray engine (the child starts a local Ray)."""
    if engine == "ray":
        return ["--engine", "ray", "--actors", str(ray_cpus)]
    kind, _, workers = engine.partition("-")
    if kind != "local" or not workers.isdigit():
        raise SystemExit(f"--engines: expected local-N or ray, got {engine!r}")
    return ["--engine", "local", "--workers", workers]


def run_select(
    run: Path, fraction: float, extra: list[str], name: str = "subset"
) -> tuple[float, float, float, dict[str, object]]:
    """``pairsift select`` in a child process; (wall seconds, driver and worker peak RSS in GiB, JSON)."""
    out = run / f"{name}.npy"
    argv = [
        "-q",
        "select",
        str(run),
        "-o",
        str(out),
        "--top",
        f"score={fraction}",
        "--json",
        "--allow-partial",
        *extra,
    ]  # the scratch run records no pool
    start = time.perf_counter()
    command = [sys.executable, __file__, "--child", *argv]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    seconds = time.perf_counter() - start
    *result, peak, workers = done.stdout.strip().splitlines()
    return seconds, int(peak) * 1024 / GIB, int(workers) * 1024 / GIB, json.loads("\n".join(result))


def child(argv: list[str]) -> int:
    """Run the CLI, then print this process's peak RSS (VmHWM, KiB) as the last line.

    VmHWM rather than ru_maxrss: Linux carries the forked parent's high-water mark across exec
    into ru_maxrss, which would count the parent's memory.
    """
    import resource

    from pairsift.cli import main as cli_main

    if "ray" in argv:
        import os

        import ray

        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        cpus = int(argv[argv.index("--actors") + 1])
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    code = cli_main(argv)
    status = Path("/proc/self/status").read_text().splitlines()
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")), flush=True)
    if "ray" in argv:
        import ray

        ray.shutdown()
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)  # KiB, the largest child
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per score table")
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--memory-budget", default=None, help="passed to pairsift select")
    parser.add_argument("--engines", nargs="+", default=["local-1"], help="local-N and/or ray")
    parser.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray (and its actors)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    total = args.files * args.rows
    with tempfile.TemporaryDirectory(prefix="pairsift-select-", dir=args.tmpdir) as tmp:
        run = Path(tmp) / "run"
        start = time.perf_counter()
        write_tables(run, args.files, args.rows, args.seed)
        logger.info("wrote %d scores in %d files in %.0fs", total, args.files, time.perf_counter() - start)
        extra = ["--memory-budget", args.memory_budget] if args.memory_budget else []
        measured = {}
        for engine in args.engines:
            options = [*extra, *engine_options(engine, args.ray_cpus)]
            measured[engine] = run_select(run, args.fraction, options, name=engine)
            measured[engine][3]["bytes"] = (run / f"{engine}.npy").read_bytes()
    expected = int(args.fraction * total)
    reference = measured[args.engines[0]][3]["bytes"]
    ok = True
    for engine, (seconds, rss, workers, result) in measured.items():
        exact = result["kept"] == expected and result["bytes"] == reference
        ok = ok and exact and rss <= TARGET_RSS_GIB
        print(
            f"[{engine}] scores: {total:,} in {args.files:,} files; top {args.fraction:g} -> "
            f"{result['kept']:,} uids (expected {expected:,}, same bytes as {args.engines[0]}: "
            f"{'yes' if exact else 'NO'})"
        )
        print(
            f"[{engine}] wall time: {seconds:.1f} s ({total / seconds / 1e6:.2f} M scores/s, "
            f"{seconds / args.files * 1000:.0f} ms per {args.rows:,}-row table)"
        )
        verdict = "PASS" if rss <= TARGET_RSS_GIB else "FAIL"
        print(
            f"[{engine}] peak RSS: driver {rss:.2f} GiB (target <= {TARGET_RSS_GIB} GiB: {verdict}); "
            f"largest child process {workers:.2f} GiB"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
