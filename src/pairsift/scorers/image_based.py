"""DataComp's image-based baseline (Gadre et al. 2023; METHODS.md §8), as a pool scorer.

k-means centroids of the pool's unit image embeddings; each target image (ImageNet-1k train in the paper;
any target file here) picks its nearest centroid; a pool sample is kept when its own nearest centroid is
one of those. Nearest = largest dot product, ties to the lowest centroid index (DataComp's argmax).

Column ``image_based`` ∈ {0, 1} (1: kept), NaN on invalid rows; the recipe keeps ``image_based >= 1``.
DataComp's centroids come from k-means on the pool (METHODS.md §8) and its English caption filter is
applied to the samples; here the filter is a separate rule (``english``) intersected in the recipe.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pairsift.data import IMAGE, PoolReader
from pairsift.device import Compute
from pairsift.errors import InputError
from pairsift.io.targets import load_targets
from pairsift.models.kmeans import KMeansConfig, assign
from pairsift.params import int_param
from pairsift.scorers.base import PoolScorer, register
from pairsift.scorers.pool_clusters import ClusteredPool, cache_pool, cluster
from pairsift.scorers.semdedup import clusters_param

#: DataComp's centroid count (small to xlarge pools)
DATACOMP_CLUSTERS = 100_000
#: clusters for ``clusters=auto``: one per this many valid rows (DataComp small: 12.8M / 100k), at most 100k
ROWS_PER_CLUSTER = 128


@register("image_based")
class ImageBased(PoolScorer):
    """Keep the samples in a k-means cluster that is the nearest cluster of some target image."""

    requires = frozenset({IMAGE})

    def __init__(
        self,
        *,
        target: str | None = None,
        target_key: str | None = None,
        clusters: Any = "auto",
        sample_size: Any = 250_000,
        iterations: Any = 20,
        threads: Any = 1,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not target:
            raise ValueError("image_based needs target=<file of target image embeddings>")
        self.target = str(target)
        self.target_key = target_key
        self.clusters = clusters_param(clusters)
        self.sample_size = int_param("sample_size", sample_size, minimum=1)
        self.iterations = int_param("iterations", iterations, minimum=1)
        self.threads = int_param("threads", threads, minimum=1)

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "target": self.target,
            "target_key": self.target_key,
            "clusters": "auto" if self.clusters is None else self.clusters,
            "sample_size": self.sample_size,
            "iterations": self.iterations,
            "threads": self.threads,
        }

    def setup(self, compute: Compute, *, family: str) -> None:
        self.targets_ = load_targets(self.target, key=self.target_key, family=family)

    def score_pool(
        self, batches: PoolReader, compute: Compute, *, seed: int, workdir: Path | None = None
    ) -> dict[str, np.ndarray]:
        if not hasattr(self, "targets_"):
            raise RuntimeError("image_based: call setup() before scoring")
        with tempfile.TemporaryDirectory(prefix="image_based-", dir=workdir) as tmp:
            pool = cache_pool(batches, Path(tmp))
            n = len(pool.keys)
            if n and pool.dim != self.targets_.shape[1]:
                raise InputError(
                    f"image_based: the pool's image embeddings have dimension {pool.dim} but target file "
                    f"{self.target} has dimension {self.targets_.shape[1]}"
                )
            k = self.clusters or min(DATACOMP_CLUSTERS, max(1, -(-n // ROWS_PER_CLUSTER)))
            cluster(pool, KMeansConfig(k, self.iterations, seed, self.threads), self.sample_size, compute)
            pool.close()  # before its folder goes
        return self.column_of(pool, compute)

    def column_of(self, pool: ClusteredPool, compute: Compute) -> dict[str, np.ndarray]:
        """``image_based`` for every shard of a clustered pool (1: in a cluster a target image picked)."""
        if len(pool.keys) == 0:
            return pool.scatter(np.zeros(0, np.float32))
        centroids = torch.from_numpy(pool.centroids).to(compute.device)
        target_labels, _ = assign(self.targets_, centroids)
        chosen = np.zeros(len(pool.centroids), dtype=bool)
        chosen[target_labels] = True
        return pool.scatter(chosen[pool.labels].astype(np.float32))
