"""The bench's outputs: ``bench.json``, ``subsets.json`` (what each subset keeps, by the world's labels), the
table in the papers' format (:func:`pairsift.report.bench.format_table`) and ``report.html``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN
from pairsift.io.fs import atomic_write
from pairsift.io.subsets import SubsetIndex, read_subset
from pairsift.report.bench import BenchData, bench_page, format_kinds, format_table
from pairsift.uids import parse_uids

#: the bench's results so far: bench.json's entries, subsets.json's kinds kept, the skipped recipes
BenchResult = BenchData


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


def write_outputs(root: Path, bench: BenchResult, config: dict[str, Any]) -> None:
    """``bench.json``, ``subsets.json``, ``table.txt`` and ``report.html`` under ``root``."""
    _write(root / "bench.json", json.dumps({"results": bench.results}, indent=2))
    record = {"config": config, "subsets": bench.subsets, "skipped": bench.skipped, "seconds": bench.seconds}
    _write(root / "subsets.json", json.dumps(record, indent=2))
    table = format_table(bench.results)
    _write(root / "table.txt", table + "\n\n" + format_kinds(bench.subsets))
    _write(root / "report.html", bench_page(bench))


def _write(path: Path, text: str) -> None:
    data = (text + "\n").encode()
    atomic_write(path, lambda fh: fh.write(data))
