"""Score tables built in code for selection tests."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.io.run_dir import RunDir
from pairsift.io.score_tables import score_table, write_score_table
from pairsift.io.sources import SourceConfig
from pairsift.io.subsets import write_subset
from pairsift.uids import format_uids, from_hex


def make_run(
    path: Path,
    columns: dict[str, list[np.ndarray]],
    *,
    seed: int = 0,
    higher_is_better: dict[str, bool] | None = None,
    uids: Sequence[Sequence[str]] | None = None,
) -> tuple[Path, list[np.ndarray]]:
    """A run directory with one score table per shard; returns (path, uids per shard).

    ``run.json`` records the scorers and, as ``pairsift score`` does, the pool: a parquet pool beside
    the run (``<path>.pool/``, one uid-only parquet per shard), so selection can check that every shard of
    the pool has its table. ``uids`` gives each shard's uids (default: random).
    """
    rng = np.random.default_rng(seed)
    run = RunDir(path)
    run.scores.mkdir(parents=True)
    pool = path.with_name(path.name + ".pool")
    pool.mkdir()
    names = list(columns)
    all_uids = []
    for i, _ in enumerate(columns[names[0]]):
        n = len(columns[names[0]][i])
        if uids is None:
            shard_uids = format_uids(rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).astype(np.uint64))
        else:
            shard_uids = np.asarray(list(uids[i]), dtype=object)
        status = np.full(n, "ok", dtype=object)
        table = score_table(shard_uids, status, {c: np.asarray(columns[c][i], np.float32) for c in names})
        write_score_table(run.table(f"{i:05d}"), table)
        pq.write_table(pa.table({"uid": pa.array(list(shard_uids), pa.string())}), pool / f"{i:05d}.parquet")
        all_uids.append(shard_uids)
    scorers = [{"column": c, "higher_is_better": (higher_is_better or {}).get(c, True)} for c in names]
    source = dataclasses.asdict(SourceConfig(kind="parquet"))
    config = {"pool": str(pool), "embeddings": "l14", "source": source}
    run.manifest.write_text(json.dumps({"config": config, "scorers": scorers}))
    return path, all_uids


def subset_file(path: Path, uids: list[str]) -> Path:
    return write_subset(path, from_hex(uids))
