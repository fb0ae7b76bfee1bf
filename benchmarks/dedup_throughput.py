"""SemDeDup throughput, peak RSS, k-means assignment rate and recall against exact all-pairs.

Synthetic unit rows at d = 768 (issue 13): ``concepts`` random centres plus instance noise, and 10 % of
each shard near-duplicates of earlier rows of that shard (the row plus noise of cosine ≈ 0.99). Shards are
generated on the fly (deterministic per shard), so the pool needs no disk; the scorer's own embedding
cache is written under ``--workdir``.

    PYTHONPATH=src python benchmarks/dedup_throughput.py --rows 1000000      # k-means + dedup, RSS
    PYTHONPATH=src python benchmarks/dedup_throughput.py --assign-rows 20000 --centroids 100000
    PYTHONPATH=src python benchmarks/dedup_throughput.py --recall-rows 20000

Each part runs when its size is > 0. Peak RSS is the process's maximum resident set (getrusage).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pairsift.data import EmbeddingBatch, PoolReader
from pairsift.device import Compute
from pairsift.models.kmeans import KMeansConfig, assign
from pairsift.scorers.pool_clusters import cache_pool, cluster
from pairsift.scorers.semdedup import ROWS_PER_CLUSTER, SemDeDup, earlier_max
from pairsift.uids import format_uids

DIM = 768
SHARD_ROWS = 50_000


class SyntheticPool(PoolReader):
    """``rows`` synthetic unit rows in shards of SHARD_ROWS, made on each read."""

    def __init__(self, rows: int, concepts: int = 2000, seed: int = 0) -> None:
        self.rows, self.seed = rows, seed
        self.centres = np.random.default_rng([seed, 0]).standard_normal((concepts, DIM)).astype(np.float32)

    def shards(self) -> list[str]:
        return [f"{i:06d}" for i in range(-(-self.rows // SHARD_ROWS))]

    def read(self, shard: str, requires: frozenset[str]) -> EmbeddingBatch:
        index = int(shard)
        n = min(SHARD_ROWS, self.rows - index * SHARD_ROWS)
        return EmbeddingBatch.build(shard, *synthetic(n, self.centres, [self.seed, 1 + index]))


def synthetic(n: int, centres: np.ndarray, seed: list[int]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(0, len(centres), n)] + 0.8 * rng.standard_normal((n, DIM), dtype=np.float32)
    dups = np.flatnonzero(rng.random(n) < 0.1)
    dups = dups[dups > 0]
    sources = (rng.random(len(dups)) * dups).astype(np.int64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x[dups] = x[sources] + 0.1 / np.sqrt(DIM) * rng.standard_normal((len(dups), DIM), dtype=np.float32)
    keys = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).astype(np.uint64)
    return format_uids(keys), x


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def dedup_run(rows: int, workdir: str | None, eps: float) -> dict[str, float]:
    pool = SyntheticPool(rows)
    scorer = SemDeDup(eps=eps)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        out = scorer.score_pool_columns(pool, Compute.resolve("cpu"), seed=0, workdir=Path(tmp))
    seconds = time.perf_counter() - start
    kept = np.concatenate(list(out["semdedup_kept"].values()))
    return {
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
        "kept_share": float(np.nanmean(kept)),
        "peak_rss_gib": round(peak_rss_gib(), 2),
    }


def assign_rate(rows: int, centroids: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    c = rng.standard_normal((centroids, DIM), dtype=np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    x = rng.standard_normal((rows, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    start = time.perf_counter()
    assign(x, torch.from_numpy(c), chunk=1024)
    seconds = time.perf_counter() - start
    return {
        "assign_rows": rows,
        "centroids": centroids,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
    }


def recall(rows: int, eps: float) -> dict[str, float]:
    """Share of the pairs above 1 − eps (exact, all pairs) whose two rows share a cluster."""
    pool = SyntheticPool(rows, seed=5)
    x = np.concatenate([pool.read(s, frozenset()).image for s in pool.shards()])
    best, _ = earlier_max(torch.from_numpy(x))
    sims = torch.from_numpy(x) @ torch.from_numpy(x).T
    pairs = torch.nonzero(torch.triu(sims > 1 - eps, diagonal=1)).numpy()
    del sims
    scorer = SemDeDup(eps=eps)
    out = scorer.score_pool_columns(pool, Compute.resolve("cpu"), seed=0)
    clustered_removed = np.concatenate(list(out["semdedup_kept"].values())) == 0
    exact_removed = best > np.float32(1 - eps)  # all pairs, pool order: one cluster holding everything
    with tempfile.TemporaryDirectory() as tmp:
        clustered = cache_pool(pool, Path(tmp))
        k = max(1, -(-rows // ROWS_PER_CLUSTER))  # the scorer's clusters=auto
        cluster(
            clustered,
            KMeansConfig(k, scorer.iterations, 0, scorer.threads),
            scorer.sample_size,
            Compute.resolve("cpu"),
        )
        labels = clustered.labels
        clustered.close()
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    return {
        "recall_rows": rows,
        "pairs_above": len(pairs),
        "pair_recall": float(same.mean()) if len(pairs) else 1.0,
        "removed_exact": int(exact_removed.sum()),
        "removed_clustered": int(clustered_removed.sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--assign-rows", type=int, default=0)
    parser.add_argument("--centroids", type=int, default=100_000)
    parser.add_argument("--recall-rows", type=int, default=0)
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    print(json.dumps({"threads": torch.get_num_threads()}))
    if args.rows:
        print(json.dumps(dedup_run(args.rows, args.workdir, args.eps)), flush=True)
    if args.assign_rows:
        print(json.dumps(assign_rate(args.assign_rows, args.centroids)), flush=True)
    if args.recall_rows:
        print(json.dumps(recall(args.recall_rows, args.eps)), flush=True)


if __name__ == "__main__":
    main()
