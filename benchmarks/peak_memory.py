"""Run a command and report the peak memory of its whole process tree (docs/bench.md).

``/usr/bin/time -v`` reports the largest single process; a run with child processes (``pairsift bench``
trains each student in its own process, two at a time) needs their sum. Every ``--every`` seconds this
sums, over the command's process and all its descendants, the resident set (RSS: shared library pages
counted once per process, an upper bound) and the proportional set (PSS: shared pages split between the
processes that map them, what the tree really holds), and prints the peaks and the wall time at the end
(also as JSON with ``--json FILE``).

    python benchmarks/peak_memory.py -- pairsift bench -o OUT
    python benchmarks/peak_memory.py --json mem.json -- pairsift bench --quick -o OUT
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import psutil


def tree_memory(root: psutil.Process) -> tuple[int, int, int]:
    """RSS and PSS summed over ``root`` and its descendants, and how many processes there are."""
    rss = pss = count = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        count += 1
    return rss, pss, count


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--every", type=float, default=2.0, help="seconds between samples (default 2)")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = p.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("no command")
    start = time.perf_counter()
    child = subprocess.Popen(command)
    root = psutil.Process(child.pid)
    peak = {"rss": 0, "pss": 0, "processes": 0}
    while child.poll() is None:
        rss, pss, count = tree_memory(root)
        peak = {
            "rss": max(peak["rss"], rss),
            "pss": max(peak["pss"], pss),
            "processes": max(peak["processes"], count),
        }
        time.sleep(args.every)
    wall = time.perf_counter() - start
    figures = {
        "returncode": child.returncode,
        "wall_s": round(wall, 1),
        "peak_rss_gib": round(peak["rss"] / 2**30, 2),
        "peak_pss_gib": round(peak["pss"] / 2**30, 2),
        "peak_processes": peak["processes"],
    }
    print(json.dumps(figures), file=sys.stderr)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)
    return child.returncode


if __name__ == "__main__":
    raise SystemExit(main())
