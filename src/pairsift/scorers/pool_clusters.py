"""The pool's image embeddings clustered by k-means: shared by ``semdedup`` and ``image_based``.

One read of the pool: every valid image embedding goes to a float32 cache on local disk (4·d bytes a
row, never all in RAM) with its uid key. The training sample (:func:`pairsift.models.kmeans.sample_mask`)
is read back from the cache in uid order, faiss trains the centroids, and every cached row is assigned
in chunks. What stays in RAM per valid row: its uid key (16 bytes), label (8) and similarity to its
centroid (4); the sample (``sample_size · d`` floats) only while training.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pairsift.data import IMAGE, PoolReader
from pairsift.device import Compute
from pairsift.models.kmeans import KMeansConfig, assign, key_order, sample_mask, train

logger = logging.getLogger(__name__)

IMAGE_ONLY = frozenset({IMAGE})


@dataclass
class ClusteredPool:
    """Valid rows of the pool in pool order (shards in order, then rows), with their clusters."""

    shards: list[str]
    #: per shard: which rows are valid (the others get NaN)
    valid: dict[str, np.ndarray]
    #: ``(n, 2)`` uint64 uid keys of the valid rows
    keys: np.ndarray
    #: ``(n, d)`` float32 unit embeddings of the valid rows (a memmap on local disk)
    cache: np.ndarray
    centroids: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: each row's dot product with its own centroid
    centroid_sim: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def dim(self) -> int:
        return int(self.cache.shape[1]) if self.cache.ndim == 2 else 0

    def scatter(self, values: np.ndarray, fill: object = np.nan) -> dict[str, np.ndarray]:
        """Per-shard columns from one value per valid row; invalid rows get ``fill``."""
        out: dict[str, np.ndarray] = {}
        offset = 0
        for shard in self.shards:
            mask = self.valid[shard]
            column = np.full(len(mask), fill, dtype=values.dtype)
            count = int(mask.sum())
            column[mask] = values[offset : offset + count]
            offset += count
            out[shard] = column
        return out


def cache_pool(batches: PoolReader, tmp: Path) -> ClusteredPool:
    """Read every shard once; write the valid image embeddings to ``tmp`` (a scratch folder)."""
    shards = batches.shards()
    valid: dict[str, np.ndarray] = {}
    keys: list[np.ndarray] = []
    path = tmp / "images.f32"
    rows, dim = 0, 0
    with path.open("wb") as fh:
        for shard in shards:
            batch = batches.read(shard, IMAGE_ONLY)
            mask = batch.valid(IMAGE_ONLY)
            valid[shard] = mask
            if not mask.any():
                continue
            assert batch.image is not None
            if dim and batch.image.shape[1] != dim:
                raise ValueError(
                    f"shard {shard!r}: image embeddings have dimension {batch.image.shape[1]}, "
                    f"the shards before it {dim}"
                )
            dim = batch.image.shape[1]
            fh.write(np.ascontiguousarray(batch.image[mask], dtype=np.float32).tobytes())
            keys.append(np.asarray(batch.uid_keys[mask], dtype=np.uint64).reshape(-1, 2))
            rows += int(mask.sum())
    all_keys = np.concatenate(keys) if keys else np.zeros((0, 2), np.uint64)
    cache = (
        np.memmap(path, dtype=np.float32, mode="r", shape=(rows, dim))
        if rows
        else np.zeros((0, 0), np.float32)
    )
    return ClusteredPool(shards, valid, all_keys, cache)


def cluster(pool: ClusteredPool, config: KMeansConfig, sample_size: int, compute: Compute) -> None:
    """Train centroids on the uid-hash sample (in uid order) and assign every cached row."""
    if len(pool.keys) == 0:
        return
    chosen = np.flatnonzero(sample_mask(pool.keys, config.seed, sample_size))
    chosen = chosen[key_order(pool.keys[chosen])]
    logger.info(
        "k-means: %d clusters on %d of %d rows (d = %d)",
        config.clusters,
        len(chosen),
        len(pool.keys),
        pool.dim,
    )
    sample = np.asarray(pool.cache[chosen])
    pool.centroids = train(sample, config, device=compute.device)
    del sample
    centroids = torch.from_numpy(pool.centroids).to(compute.device)
    pool.labels, pool.centroid_sim = assign(pool.cache, centroids)
