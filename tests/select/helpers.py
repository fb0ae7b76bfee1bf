"""Score tables built in code for selection tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pairsift.io.run_dir import RunDir
from pairsift.io.score_tables import score_table, write_score_table
from pairsift.io.subsets import write_subset
from pairsift.uids import format_uids, from_hex


def make_run(
    path: Path,
    columns: dict[str, list[np.ndarray]],
    *,
    seed: int = 0,
    higher_is_better: dict[str, bool] | None = None,
) -> tuple[Path, list[np.ndarray]]:
    """A run directory with one score table per shard; returns (path, uids per shard)."""
    rng = np.random.default_rng(seed)
    run = RunDir(path)
    run.scores.mkdir(parents=True)
    names = list(columns)
    all_uids = []
    for i, _ in enumerate(columns[names[0]]):
        n = len(columns[names[0]][i])
        uids = format_uids(rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).astype(np.uint64))
        status = np.full(n, "ok", dtype=object)
        table = score_table(uids, status, {c: columns[c][i] for c in names})
        write_score_table(run.table(f"{i:05d}"), table)
        all_uids.append(uids)
    scorers = [{"column": c, "higher_is_better": (higher_is_better or {}).get(c, True)} for c in names]
    run.manifest.write_text(json.dumps({"scorers": scorers}))
    return path, all_uids


def subset_file(path: Path, uids: list[str]) -> Path:
    return write_subset(path, from_hex(uids))
