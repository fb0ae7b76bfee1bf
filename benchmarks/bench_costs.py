"""What each step of ``pairsift bench`` costs, in wall and CPU seconds, on a small run (docs/bench.md).

The steps run one after another in this process, so the CPU seconds of each (this process's plus its
children's: the trainer runs in a child process) are its own even on a shared machine, where the wall
time depends on the load:

1. prepare: generate the world, embed the pool and the NormSim target set;
2. select + reshard, per method (the recipes through ``api.run``, the subset out of the pool tars);
3. train one student on the whole pool, once per ``--threads`` value (the trainer's torch threads), with
   the samples seen per CPU-second;
4. evaluate it on every world task plus retrieval.

From these it prints the model of the default grid's cost: CPU seconds = prepare + the selections +
students x (trainer start-up + samples seen / rate + evaluation), and the wall time on two dedicated
cores with two students trained at once (CPU seconds / 2).

    python benchmarks/bench_costs.py --out /tmp/bench-costs            # ~4 CPU-minutes
    python benchmarks/bench_costs.py --out /tmp/bc --samples 2000 --samples-seen 2048 --threads 1 2
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pairsift import api
from pairsift.world.bench import (
    NO_FILTER,
    STUDENT,
    BenchConfig,
    grid,
    prepare,
    select_subset,
    subset_data,
)


def measured(step: Callable[[], Any]) -> tuple[Any, float, float]:
    """``step()``, its wall seconds and its CPU seconds (this process and its waited-for children)."""

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    wall, before = time.perf_counter(), cpu()
    value = step()
    return value, time.perf_counter() - wall, cpu() - before


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--samples", type=int, default=1000, help="pool samples (default 1000)")
    p.add_argument(
        "--samples-seen",
        type=int,
        nargs="+",
        default=[128, 1024],
        help="budgets to train (the start-up cost is what the smallest one costs beyond its samples)",
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--methods", nargs="*", help="default: the whole grid")
    args = p.parse_args()
    config = BenchConfig(args.out, samples=args.samples, device="cpu")
    import torch

    torch.set_num_threads(config.threads)  # as pairsift bench does (one thread: see docs/bench.md)
    rows: list[dict[str, Any]] = []

    w, wall, cpu = measured(lambda: prepare(config))
    rows.append({"step": "prepare", "what": f"{args.samples} samples", "wall": wall, "cpu": cpu})
    methods, _ = grid(tuple(args.methods or ()), w.variables())
    for name in methods:
        if name == NO_FILTER:
            continue
        try:
            _, wall, cpu = measured(lambda n=name: subset_data(n, select_subset(n, w), w))
            rows.append({"step": "select+reshard", "what": name, "wall": wall, "cpu": cpu})
        except Exception as exc:  # the bench skips these too
            rows.append({"step": "select+reshard", "what": f"{name} (fails: {type(exc).__name__})"})
    student = Path(args.out)
    for threads in args.threads:
        for seen in args.samples_seen:
            out = Path(args.out) / f"cost-student-{threads}-{seen}"

            def train(o: Path = out, t: int = threads, n: int = seen) -> Any:
                return api.train(
                    str(w.pool_tars),
                    str(o),
                    model=STUDENT,
                    samples_seen=n,
                    checkpoints=1,
                    batch_size=args.batch_size,
                    workers=config.workers,
                    threads=t,
                    device="cpu",
                )

            _, wall, cpu = measured(train)
            what = f"{seen} seen, batch {args.batch_size}, {threads} thread(s)"
            row = {"step": "train", "what": what, "wall": wall, "cpu": cpu}
            rows.append({**row, "threads": threads, "seen": seen})
            student = out
        runs = [r for r in rows if r["step"] == "train" and r["threads"] == threads]
        if len(runs) > 1:  # two budgets: the CPU seconds per sample and the fixed start-up
            small, big = runs[0], runs[-1]
            rate = (big["seen"] - small["seen"]) / (big["cpu"] - small["cpu"])
            startup = small["cpu"] - small["seen"] / rate
            what = f"{threads} thread(s): {rate:.0f} samples/CPU-s, start-up {startup:.1f} CPU-s"
            rows.append({"step": "train model", "what": what, "rate": rate, "startup": startup})
    _, wall, cpu = measured(lambda: api.evaluate(str(student), [str(w.tasks)], device="cpu"))
    rows.append({"step": "evaluate", "what": "3 tasks + retrieval", "wall": wall, "cpu": cpu})
    for r in rows:
        cost = f"{r['wall']:8.1f} s wall {r['cpu']:8.1f} CPU-s" if "cpu" in r else ""
        print(f"{r['step']:<16}{r['what']:<58}{cost}")
    Path(args.out, "costs.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
