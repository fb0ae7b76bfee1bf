"""The bench's outputs: ``bench.json``, ``subsets.json`` (what each subset keeps, by the world's labels), the
table in the papers' format (subset size, each task, average; mean ± std over seeds) and ``report.html``."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN
from pairsift.io.fs import atomic_write
from pairsift.io.subsets import SubsetIndex, read_subset
from pairsift.report.bench import MethodScore, bench_page
from pairsift.uids import parse_uids


@dataclass
class BenchResult:
    results: list[dict[str, Any]] = field(default_factory=list)
    subsets: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def kinds_kept(labels: Path, subset: str | None) -> dict[str, Any]:
    """The subset's size, the share of each kind of sample it keeps, and its composition by kind."""
    table = pq.read_table(labels, columns=[UID_COLUMN, "kind"])
    kinds = np.asarray(table.column("kind").to_numpy(zero_copy_only=False))
    if subset is None:
        kept = np.ones(len(kinds), dtype=bool)
        size = len(kinds)
    else:
        rows = read_subset(subset)
        keys, _ = parse_uids(table.column(UID_COLUMN))
        kept = SubsetIndex(rows).contains_keys(keys)
        size = len(rows)
    names = sorted(set(kinds.tolist()), key=lambda k: (k != "clean", k))
    return {
        "size": int(size),
        "kept": {k: float(np.mean(kept[kinds == k])) for k in names},
        "composition": {k: float(np.sum(kept & (kinds == k)) / max(1, kept.sum())) for k in names},
    }


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method, in order of first appearance: subset size, mean and std over seeds of each task and of
    the average, and the seeds."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in results:
        groups[entry["method"]].append(entry)
    rows = []
    for method, entries in groups.items():
        tasks = list(entries[0]["tasks"])
        cells = {t: _stats([e["tasks"][t] for e in entries]) for t in tasks}
        rows.append(
            {
                "method": method,
                "subset_size": entries[0]["subset_size"],
                "seeds": [e["seed"] for e in entries],
                "tasks": cells,
                "average": _stats([e["average"] for e in entries]),
            }
        )
    return rows


def _stats(values: list[float]) -> tuple[float, float]:
    return float(statistics.fmean(values)), float(statistics.stdev(values)) if len(values) > 1 else 0.0


def format_table(results: list[dict[str, Any]]) -> str:
    """The papers' table: one row per method, accuracies in % as mean ± std over seeds."""
    rows = summarise(results)
    if not rows:
        return "(no results)"
    tasks = list(rows[0]["tasks"])
    header = f"{'method':<28}{'size':>7}" + "".join(f"{t:>14}" for t in tasks) + f"{'average':>14}"
    lines = [header]
    for row in rows:
        cells = "".join(f"{_cell(row['tasks'][t]):>14}" for t in tasks)
        lines.append(f"{row['method']:<28}{row['subset_size']:>7}{cells}{_cell(row['average']):>14}")
    seeds = len(rows[0]["seeds"])
    lines.append(
        f"accuracy in % (retrieval: mean of image and text recall@1), mean ± std over {seeds} seed(s)"
    )
    return "\n".join(lines)


def _cell(stats: tuple[float, float]) -> str:
    mean, std = stats
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def format_kinds(subsets: dict[str, dict[str, Any]]) -> str:
    """Share of each kind of sample each subset keeps."""
    if not subsets:
        return ""
    kinds = list(next(iter(subsets.values()))["kept"])
    lines = [f"{'kept (share of each kind)':<28}" + "".join(f"{k[:15]:>16}" for k in kinds)]
    for name, s in subsets.items():
        lines.append(f"{name:<28}" + "".join(f"{s['kept'][k]:>16.1%}" for k in kinds))
    return "\n".join(lines)


def write_outputs(root: Path, bench: BenchResult, config: dict[str, Any]) -> None:
    """``bench.json``, ``subsets.json``, ``table.txt`` and ``report.html`` under ``root``."""
    _write(root / "bench.json", json.dumps({"results": bench.results}, indent=2))
    record = {"config": config, "subsets": bench.subsets, "skipped": bench.skipped, "seconds": bench.seconds}
    _write(root / "subsets.json", json.dumps(record, indent=2))
    table = format_table(bench.results)
    _write(root / "table.txt", table + "\n\n" + format_kinds(bench.subsets))
    scores = [
        MethodScore(
            r["method"], r["subset_size"], [e["average"] for e in bench.results if e["method"] == r["method"]]
        )
        for r in summarise(bench.results)
    ]
    _write(root / "report.html", bench_page(table, format_kinds(bench.subsets), scores, bench.skipped))


def _write(path: Path, text: str) -> None:
    data = (text + "\n").encode()
    atomic_write(path, lambda fh: fh.write(data))
