"""Crash campaign: kill every stage with SIGKILL at random moments, rerun, compare bytes (issue 16).

Builds a small world in a scratch folder (``pairsift world generate``), an uninterrupted reference run
of every stage, then for each trial starts the stage's CLI in a subprocess (its own session), kills it
after a random delay drawn from ``[0.15, 0.95] x the reference's wall time`` (seeded: after the
imports, before the end, so that kills land while the stage works), either

- ``group``: the whole process group (``os.killpg``), or
- ``main``: the main pid alone, so its workers are orphaned and must die by themselves,

then checks that no campaign process is left (every subprocess carries a marker in its environment;
the killed pid's children are also snapshotted just before the kill), that every file already under a
final name after the kill is byte-identical to the reference (atomic writes: no partial file), reruns
the same command to completion and compares the sha256 of every output file with the reference, and
looks for stray ``*.tmp`` files. Some trials use ``--workers 2`` (reference runs are made for each
worker count used; their data files are also compared across worker counts).

Stages: embed, caption, score, select, reshard, report, and ``pairsift run`` of a built-in recipe with a
reshard section. Not compared: ``.lock`` (holds the pid of its owner) and the per-invocation counters
of reshard's ``summary.json`` (``resharded``, ``skipped``: how many shards this invocation did).
``run.json`` is written first and grows by one atomic rewrite per entry a later step adds, so right after
a kill each of its entries present must equal the reference's (and it must parse); after the rerun the
whole file must. Across worker counts, JSON records may differ in their ``workers`` keys only.

    python benchmarks/crash_campaign.py                 # 56 trials over all stages (~15 min under load)
    python benchmarks/crash_campaign.py --trials 100 --seed 3
    python benchmarks/crash_campaign.py --quick         # 3 trials (score, select, reshard), ~30 s

Exit status 1 when any trial differs, leaves a process or a stray file, or its rerun fails.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
MARK = "PAIRSIFT_CRASH_CAMPAIGN"
#: how long orphaned workers get to notice their parent died (PDEATHSIG is immediate; DataLoader's
#: watchdog polls every few seconds)
GRACE_S = 10.0
IGNORED = {".lock"}
#: share of each stage's trials by default (sums to the default 56)
SHARES = {"embed": 6, "caption": 6, "score": 10, "select": 10, "reshard": 10, "report": 6, "run": 8}
#: stages that take --workers (a third of their trials use 2)
PARALLEL = {"embed", "caption", "score", "reshard", "run"}


@dataclass
class World:
    """Paths of the scratch world and the reference inputs every stage reads."""

    root: Path
    tars: Path
    pool: Path
    captions: Path
    run: Path
    subset: Path
    embeddings: str

    def out(self, stage: str) -> Path:
        return self.root / "out" / stage


@dataclass
class Row:
    stage: str
    mode: str
    trials: int = 0
    killed: int = 0  # trials whose process was still running at the kill
    differing: int = 0  # output files whose bytes differ from the reference (after the rerun)
    partial: int = 0  # files under a final name right after the kill that differ from the reference
    leftover: int = 0  # campaign processes still alive GRACE_S after the kill
    stray: int = 0  # *.tmp files left after the rerun
    failed: int = 0  # reruns that did not exit 0
    notes: list[str] = field(default_factory=list)


#: kill window, as fractions of the reference run's wall time
KILL_FROM, KILL_TO = 0.15, 0.95


def env(token: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", MARK: token}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pairsift.cli", "-q", *args]


def commands(w: World, quick: bool) -> dict[str, Callable[[Path, int], list[list[str]]]]:
    """stage -> (output dir, workers) -> the command lines (the first is the one killed and rerun)."""
    emb = ["--embeddings", w.embeddings]

    def workers(n: int) -> list[str]:
        return ["--workers", str(n)] if n > 1 else []

    return {
        "embed": lambda o, n: [
            cli("embed", str(w.tars), "-o", str(o), "--model", "pairsift:tiny-world", "--device", "cpu")
            + workers(n)
        ],
        "caption": lambda o, n: [
            cli(
                "caption", str(w.tars), "-o", str(o), "--model", "pairsift:tiny-world-captioner",
                "--device", "cpu", "--num-captions", "2", "--num-workers", "0",
            )
            + workers(n)
        ],
        "score": lambda o, n: [
            cli("score", str(w.pool), "-o", str(o), *emb, "--device", "cpu", "--scorer", "clip_score",
                "--scorer", "neg_clip_loss:k=4,batch_size=16", "--scorer", "norm_sim_d:iters=3")
            + workers(n)
        ],
        "select": lambda o, n: [
            cli("select", str(w.run), "-o", str(o / "subset.npy"), "--top", "neg_clip_loss=0.6",
                "--top", "clip_score=0.5")
        ],
        "reshard": lambda o, n: [
            cli("reshard", str(w.tars), "--subset", str(w.subset), "-o", str(o), "--shard-size", "7")
            + workers(n)
        ],
        "report": lambda o, n: [
            cli("report", str(w.run), "-o", str(o / "report.html"), "--subset", str(w.subset))
        ],
        "run": lambda o, n: [
            cli("run", "clipscore-30", "--pool", str(w.pool), "-o", str(o / "run"),
                "--set", f"embeddings={w.embeddings}", "--set", "compute.device=cpu",
                "--set", f"reshard.input={w.tars}", "--set", f"reshard.output={o / 'tars'}",
                "--set", "reshard.shard_size=9")
            + workers(n)
        ],
    }  # fmt: skip


#: per-invocation counters of a record (what this run did, not what it wrote): left out of its hash
PER_RUN = {"summary.json": ("resharded", "skipped")}


def digest(p: Path) -> str:
    data = p.read_bytes()
    if p.name in PER_RUN:
        try:
            record = json.loads(data)
            data = json.dumps({k: v for k, v in record.items() if k not in PER_RUN[p.name]}).encode()
        except ValueError:
            pass  # a torn record: hash its bytes, so it differs
    return hashlib.sha256(data).hexdigest()


#: records a run writes first and then grows, one atomic rewrite per added entry (``RunDir.record``): right
#: after a kill they may lack the entries added later, so each entry present is compared, not the file
GROWING = {"run.json"}
#: entry name of a growing record that is not a JSON object (a torn file): never in a reference
TORN = "#torn"


def entries(p: Path) -> dict[str, str]:
    """``{"<name>#<key>": sha256}`` per top-level entry of a growing record, or ``{"<name>#torn": ...}``."""
    try:
        record = json.loads(p.read_bytes())
    except ValueError:
        record = None
    if not isinstance(record, dict):
        return {f"{p.name}{TORN}": digest(p)}
    return {f"{p.name}#{k}": hashlib.sha256(json.dumps(v).encode()).hexdigest() for k, v in record.items()}


#: keys by which a JSON record says how many workers ran it (run.json, embed.json): the one thing
#: allowed to differ between the workers-1 and workers-2 references
WORKER_KEYS = {"workers"}
#: suffix of a JSON record's pseudo-entry hashed without :data:`WORKER_KEYS`
NO_WORKERS = "~no-workers"


def _drop_worker_keys(value: object) -> object:
    if isinstance(value, dict):
        return {k: _drop_worker_keys(v) for k, v in value.items() if k not in WORKER_KEYS}
    if isinstance(value, list):
        return [_drop_worker_keys(v) for v in value]
    return value


def without_workers(p: Path) -> str:
    try:
        record = json.loads(p.read_bytes())
    except ValueError:
        return digest(p)
    if isinstance(record, dict):
        record = {k: v for k, v in record.items() if k not in PER_RUN.get(p.name, ())}
    return hashlib.sha256(json.dumps(_drop_worker_keys(record), sort_keys=True).encode()).hexdigest()


def digests(folder: Path) -> dict[str, str]:
    """sha256 per file under ``folder``, per entry of its growing records, and per JSON record without
    its worker counts (``<name>~no-workers``, for the comparison across worker counts only)."""
    if not folder.exists():
        return {}
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name not in IGNORED and not p.name.endswith(".tmp"):
            name = str(p.relative_to(folder))
            out[name] = digest(p)
            if p.suffix == ".json":
                out[name + NO_WORKERS] = without_workers(p)
            if p.name in GROWING:
                out |= {f"{Path(name).parent / k}": h for k, h in entries(p).items()}
    return out


def cross_differs(name: str, ref: dict[str, str], base: dict[str, str]) -> bool:
    """Whether ``name`` differs between the workers-2 and workers-1 references: a JSON record (and its
    entries) may differ only in its worker counts, every other file not at all."""
    if name.endswith(NO_WORKERS):
        return ref[name] != base[name]
    record = name.split("#")[0]
    if record.endswith(".json") and record + NO_WORKERS in base:
        return False  # judged by its ~no-workers entry
    return ref[name] != base[name]


def changed_after_kill(after_kill: dict[str, str], ref: dict[str, str]) -> list[str]:
    """Files under a final name right after the kill that are not the reference's: whole files, except
    growing records, whose entries present must each be the reference's (and which must not be torn)."""
    bad = []
    for name, h in after_kill.items():
        if name.endswith(TORN):
            bad.append(name)
        elif name.endswith(NO_WORKERS):
            continue  # only for the comparison across worker counts
        elif Path(name).name in GROWING:
            continue  # judged by its entries
        elif name in ref and ref[name] != h:
            bad.append(name)
    return bad


def strays(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.tmp")] if folder.exists() else []


def marked(token: str) -> list[psutil.Process]:
    """Live processes whose environment carries this campaign's marker ``token``."""
    found = []
    for proc in psutil.process_iter():
        try:
            mine = proc.pid != os.getpid() and proc.environ().get(MARK) == token
            if mine and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def run_to_end(argv: list[str], token: str, timeout: float = 600) -> tuple[int, float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env(token), cwd=ROOT, capture_output=True, timeout=timeout)
    return done.returncode, time.perf_counter() - start, done.stderr.decode(errors="replace")[-500:]


def survivors(pid: int, children: list[psutil.Process], token: str) -> list[psutil.Process]:
    """What is still alive GRACE_S after the kill: marked processes and the killed pid's children."""
    deadline = time.monotonic() + GRACE_S
    while True:
        alive = {p.pid: p for p in marked(token)}
        for child in children:
            try:
                if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                    alive[child.pid] = child
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return list(alive.values())
        time.sleep(0.2)


def trial(
    stage: str, argv: list[str], out: Path, ref: dict[str, str], delay: float, mode: str, row: Row, token: str
) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if stage in ("embed", "caption", "score", "reshard"):
        out.rmdir()  # these stages make their output folder themselves
    proc = subprocess.Popen(
        argv, env=env(token), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    time.sleep(delay)
    row.trials += 1
    if proc.poll() is None:
        row.killed += 1
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        if mode == "group":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        left = survivors(proc.pid, children, token)
        if left:
            row.leftover += len(left)
            row.notes.append(f"{stage}/{mode}: {len(left)} processes alive {GRACE_S:.0f}s after the kill")
            for p in left:  # ours: do not let them pile up
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
    else:
        proc.wait()
    after_kill = digests(out)
    partial = changed_after_kill(after_kill, ref)
    row.partial += len(partial)
    if partial:
        row.notes.append(f"{stage}/{mode}: after the kill {partial[:3]} differ from the reference")
    code, _, err = run_to_end(argv, token)
    if code != 0:
        row.failed += 1
        row.notes.append(f"{stage}/{mode}: rerun exited {code}: {err.strip().splitlines()[-1:]} ")
    final = digests(out)
    differing = sorted(set(ref) ^ set(final) | {n for n in ref if n in final and ref[n] != final[n]})
    differing = [n for n in differing if not n.endswith(NO_WORKERS)]  # the whole file is compared
    row.differing += len(differing)
    if differing:
        row.notes.append(f"{stage}/{mode}: rerun output differs: {differing[:4]}")
    stray = strays(out)
    row.stray += len(stray)
    if stray:
        row.notes.append(f"{stage}/{mode}: stray files {[str(p.relative_to(out)) for p in stray[:3]]}")


def build_world(root: Path, quick: bool, token: str) -> World:
    """The world's tars, then (full) an embedded pool, captions, a score run and a subset by the CLI, or
    (quick) a synthetic pool and a subset of every third world uid, written in process."""
    tars = root / "world" / "pool"
    samples, shard = (60, 15) if quick else (120, 30)
    generate = cli(
        "world", "generate", "-o", str(root / "world"), "--samples", str(samples), "--shard-size", str(shard),
        "--task-samples", "10", "--image-size", "32", "--task", "shape",
    )  # fmt: skip
    check(run_to_end(generate, token), "world generate")
    w = World(root, tars, root / "pool", root / "captions", root / "run", root / "subset.npy", "tiny_world")
    if quick:
        import numpy as np
        import pyarrow.parquet as pq

        sys.path.insert(0, str(ROOT / "src"))
        from pairsift.io.subsets import write_subset
        from pairsift.uids import from_keys, parse_uids
        from pairsift.world.synth import SynthConfig, write_pool

        write_pool(w.pool, SynthConfig(shards=4, rows_per_shard=200, dim=16))
        w.embeddings = "l14"
        uids = pq.read_table(root / "world" / "labels.parquet").column("uid").to_pylist()[::3]
        keys, ok = parse_uids(np.asarray(uids, dtype=object))
        write_subset(w.subset, from_keys(keys[ok]))
    else:
        cmds = commands(w, quick)
        check(run_to_end(cmds["embed"](w.pool, 1)[0], token), "embed (inputs)")
        check(run_to_end(cmds["caption"](w.captions, 1)[0], token), "caption (inputs)")
    check(run_to_end(commands(w, quick)["score"](w.run, 1)[0], token), "score (inputs)")
    if not quick:
        select = commands(w, quick)["select"](root / "sel", 1)[0]
        (root / "sel").mkdir()
        check(run_to_end(select, token), "select (inputs)")
        shutil.copy(root / "sel" / "subset.npy", w.subset)
    return w


def check(result: tuple[int, float, str], what: str) -> float:
    code, seconds, err = result
    if code != 0:
        raise SystemExit(f"{what} failed (exit {code}): {err}")
    return seconds


def plan(trials: int, quick: bool, rng: random.Random) -> list[tuple[str, str, int]]:
    """``(stage, kill mode, workers)`` of every trial, stages in proportion to :data:`SHARES`."""
    if quick:
        return [("score", "group", 1), ("select", "main", 1), ("reshard", "main", 2)][:trials]
    total = sum(SHARES.values())
    counts = {s: max(1, round(trials * n / total)) for s, n in SHARES.items()}
    out = []
    for stage, n in counts.items():
        for i in range(n):
            mode = "group" if i % 2 == 0 else "main"
            workers = 2 if stage in PARALLEL and i % 3 == 1 else 1
            out.append((stage, mode, workers))
    rng.shuffle(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=None, help="trials in all (default 56; --quick: 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3 trials on a tiny synthetic pool")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    trials = args.trials if args.trials is not None else (3 if args.quick else sum(SHARES.values()))
    rng = random.Random(args.seed)
    token = f"{os.getpid()}-{args.seed}-{time.time_ns()}"
    root = Path(tempfile.mkdtemp(prefix="pairsift-crash-"))
    started = time.perf_counter()
    try:
        w = build_world(root, args.quick, token)
        cmds = commands(w, args.quick)
        schedule = plan(trials, args.quick, rng)
        refs: dict[tuple[str, int], tuple[dict[str, str], float]] = {}
        cross: list[str] = []
        for stage, workers in sorted({(s, n) for s, _, n in schedule}):
            out = w.out(stage)
            shutil.rmtree(out, ignore_errors=True)
            if stage in ("select", "report", "run"):
                out.mkdir(parents=True)
            seconds = check(run_to_end(cmds[stage](out, workers)[0], token), f"{stage} (reference)")
            refs[stage, workers] = digests(out), seconds
        for (stage, workers), (ref, _) in refs.items():  # byte identity across worker counts
            if workers > 1 and (stage, 1) in refs:
                base = refs[stage, 1][0]
                cross += [f"{stage}: {n}" for n in sorted(base) if n in ref and cross_differs(n, ref, base)]
        rows: dict[tuple[str, str], Row] = {}
        for stage, mode, workers in schedule:
            ref, seconds = refs[stage, workers]
            row = rows.setdefault((stage, mode), Row(stage, mode))
            argv_ = cmds[stage](w.out(stage), workers)[0]
            delay = rng.uniform(KILL_FROM * seconds, KILL_TO * seconds)
            trial(stage, argv_, w.out(stage), ref, delay, mode, row, token)
        left_at_end = marked(token)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    table = sorted(rows.values(), key=lambda r: (list(SHARES).index(r.stage), r.mode))
    report(table, cross, len(left_at_end), time.perf_counter() - started, args.json)
    bad = (
        cross
        or left_at_end
        or any(r.differing or r.partial or r.leftover or r.stray or r.failed for r in table)
    )
    return 1 if bad else 0


def report(rows: list[Row], cross: list[str], left: int, seconds: float, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"rows": [r.__dict__ for r in rows], "cross_workers": cross, "left_at_end": left}))
        return
    head = ("stage", "kill", "trials", "killed", "differing", "partial", "leftover", "stray .tmp", "failed")
    print("  ".join(f"{h:>10}" for h in head))
    for r in rows:
        cells = (r.stage, r.mode, r.trials, r.killed, r.differing, r.partial, r.leftover, r.stray, r.failed)
        print("  ".join(f"{c:>10}" for c in cells))
    total = [
        sum(getattr(r, k) for r in rows) for k in ("trials", "killed", "differing", "partial", "leftover")
    ]
    total += [sum(r.stray for r in rows), sum(r.failed for r in rows)]
    print("  ".join(f"{c:>10}" for c in ("all", "", *total)))
    print(
        f"workers 2 vs 1 reference: {len(cross)} differing files; campaign processes left at the end: {left}"
    )
    print(f"{seconds:.0f}s")
    for name in cross:
        print(f"  workers 2 vs 1: {name} differs")
    for r in rows:
        for note in r.notes:
            print("  " + note)


if __name__ == "__main__":
    sys.exit(main())
