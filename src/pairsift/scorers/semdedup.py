"""SemDeDup (Abbas et al. 2023; METHODS.md §9): semantic deduplication inside k-means clusters.

1. Spherical k-means on the pool's unit image embeddings (:mod:`pairsift.scorers.pool_clusters`).
2. Inside each cluster, order the members by their similarity to the centroid, ascending (SemDeDup keeps
   the member least similar to the centroid), ties by uid.
3. ``M_j = max_{i before j} x_i · x_j`` (exact float32 products, tiled), −1 for a cluster's first member.
   A member with ``M_j > 1 − eps`` is a near-duplicate of an earlier one and is removed; the others stay.

Columns: ``semdedup`` = M (so ``semdedup <= 1 − eps`` is the deduplicated pool, for any eps, without
rescoring), ``semdedup_kept`` ∈ {0, 1} at this scorer's ``eps``, and ``semdedup_duplicate_of``: for a
removed member, the uid of the kept member its chain of earlier near-duplicates leads to (its group),
empty for kept ones. Invalid rows: NaN and empty.

Memory: the embeddings sit in a disk cache; RAM holds ~40 bytes per valid row plus one cluster's
embeddings and a ``tile × tile`` similarity block. Cost: Σ_c m_c²·d flops for the products.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pairsift.data import IMAGE, PoolReader
from pairsift.device import Compute
from pairsift.models.kmeans import KMeansConfig
from pairsift.params import int_param
from pairsift.scorers.base import PoolScorer, register
from pairsift.scorers.pool_clusters import ClusteredPool, cache_pool, cluster
from pairsift.uids import format_uids

#: rows per side of one similarity block inside a cluster (CPU: 16 MiB of float32)
TILE = 2048
#: value of M for a cluster's first member (no earlier member): the smallest cosine
NO_EARLIER = np.float32(-1.0)
#: clusters for the default ``clusters=auto``: one per this many valid rows (SemDeDup's LAION-440M run had
#: ~8,800 rows per cluster; pairs in different clusters are never compared)
ROWS_PER_CLUSTER = 10_000


def eps_param(value: Any) -> float:
    """``eps`` in the open interval (0, 1), or an error naming it."""
    try:
        eps = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"eps must be a number in (0, 1), got {value!r}") from None
    if isinstance(value, bool) or not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1) (near-duplicates are pairs above 1 - eps), got {value!r}")
    return eps


def clusters_param(value: Any) -> int | None:
    """``auto`` (None) or an integer >= 1."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    return int_param("clusters", value, minimum=1)


@register("semdedup")
class SemDeDup(PoolScorer):
    """Near-duplicate removal inside k-means clusters of the image embeddings."""

    requires = frozenset({IMAGE})
    higher_is_better = False

    def __init__(
        self,
        *,
        eps: Any = 0.05,
        clusters: Any = "auto",
        sample_size: Any = 100_000,
        iterations: Any = 20,
        threads: Any = 1,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.eps = eps_param(eps)
        self.clusters = clusters_param(clusters)
        self.sample_size = int_param("sample_size", sample_size, minimum=1)
        self.iterations = int_param("iterations", iterations, minimum=1)
        self.threads = int_param("threads", threads, minimum=1)

    def output_columns(self) -> tuple[str, ...]:
        return (self.column, f"{self.column}_kept", f"{self.column}_duplicate_of")

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "eps": self.eps,
            "clusters": "auto" if self.clusters is None else self.clusters,
            "sample_size": self.sample_size,
            "iterations": self.iterations,
            "threads": self.threads,
        }

    def score_pool(
        self, batches: PoolReader, compute: Compute, *, seed: int, workdir: Path | None = None
    ) -> dict[str, np.ndarray]:
        return self.score_pool_columns(batches, compute, seed=seed, workdir=workdir)[self.column]

    def score_pool_columns(
        self, batches: PoolReader, compute: Compute, *, seed: int, workdir: Path | None = None
    ) -> dict[str, dict[str, np.ndarray]]:
        with tempfile.TemporaryDirectory(prefix="semdedup-", dir=workdir) as tmp:
            pool = cache_pool(batches, Path(tmp))
            n = len(pool.keys)
            k = self.clusters or max(1, -(-n // ROWS_PER_CLUSTER))
            cluster(pool, KMeansConfig(k, self.iterations, seed, self.threads), self.sample_size, compute)
            columns = self.columns(pool, compute)
            pool.close()  # before its folder goes
        return columns

    def columns(self, pool: ClusteredPool, compute: Compute) -> dict[str, dict[str, np.ndarray]]:
        """The output columns of a clustered pool (its cache still open)."""
        similarity, nearest = deduplicate(pool, compute)
        kept = similarity <= np.float32(1 - self.eps)
        group = chain_roots(nearest, kept)
        duplicate_of = np.where(kept, "", format_uids(pool.keys)[group]).astype(object)
        return {
            self.column: pool.scatter(similarity),
            f"{self.column}_kept": pool.scatter(kept.astype(np.float32)),
            f"{self.column}_duplicate_of": pool.scatter(duplicate_of, fill=""),
        }


def deduplicate(pool: ClusteredPool, compute: Compute) -> tuple[np.ndarray, np.ndarray]:
    """For every valid row: M (max similarity to an earlier member of its cluster) and the row index
    (into the pool's valid rows) of that earlier member, -1 for a cluster's first one."""
    n = len(pool.keys)
    similarity = np.full(n, NO_EARLIER, dtype=np.float32)
    nearest = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return similarity, nearest
    by_cluster = np.argsort(pool.labels, kind="stable")
    bounds = np.cumsum(np.bincount(pool.labels, minlength=len(pool.centroids)))
    start = 0
    for end in bounds.tolist():
        members = by_cluster[start:end]
        start = end
        if len(members) < 2:
            continue
        keys = pool.keys[members]
        members = members[np.lexsort((keys[:, 1], keys[:, 0], pool.centroid_sim[members]))]
        block = torch.from_numpy(np.asarray(pool.cache[members], dtype=np.float32)).to(compute.device)
        best, where = earlier_max(block)
        similarity[members] = best
        found = where >= 0
        nearest[members[found]] = members[where[found]]
    return similarity, nearest


def earlier_max(x: torch.Tensor, tile: int = TILE) -> tuple[np.ndarray, np.ndarray]:
    """``max_{i<j} x_i·x_j`` for every row j (−1 for row 0) and its argmax i (the first on ties; −1)."""
    m = x.shape[0]
    best = torch.full((m,), float(NO_EARLIER), device=x.device)
    where = torch.full((m,), -1, dtype=torch.int64, device=x.device)
    for j0 in range(0, m, tile):
        j1 = min(j0 + tile, m)
        for i0 in range(0, j1, tile):
            i1 = min(i0 + tile, j1)
            sim = torch.mm(x[i0:i1], x[j0:j1].T)
            if i1 > j0:  # the diagonal block: only i < j counts
                rows = torch.arange(i0, i1, device=x.device)[:, None]
                cols = torch.arange(j0, j1, device=x.device)[None, :]
                sim.masked_fill_(rows >= cols, -torch.inf)
            value, index = sim.max(dim=0)
            better = value > best[j0:j1]
            best[j0:j1] = torch.where(better, value, best[j0:j1])
            where[j0:j1] = torch.where(better, index + i0, where[j0:j1])
    return best.cpu().numpy(), where.cpu().numpy()


def chain_roots(nearest: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """For each row, the kept row reached by following ``nearest`` from removed rows (pointer jumping;
    a removed row's nearest earlier member comes before it, so every chain ends at a kept row)."""
    root = np.where(kept, np.arange(len(kept)), nearest)
    while True:
        jumped = root[root]
        if np.array_equal(jumped, root):
            return root
        root = jumped
