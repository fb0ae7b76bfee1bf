"""The pool's image embeddings clustered by k-means: shared by ``semdedup`` and ``image_based``.

One read of the pool: every valid image embedding goes to a float32 cache on local disk (4·d bytes a
row, never all in RAM) with its uid key. The training sample (:func:`pairsift.models.kmeans.sample_mask`)
is read back from the cache in uid order, faiss trains the centroids, and every cached row is assigned
in chunks. What stays in RAM per valid row: its uid key (16 bytes), label (8) and similarity to its
centroid (4); the sample (``sample_size · d`` floats) only while training.

The cache is read with plain ``pread`` calls (:class:`RowFile`), not memory-mapped: pages of a mapped
file that a pass has touched stay in the process's resident set until the kernel reclaims them, so a
memmap of a 1M × 768 pool showed 3.8 GiB peak RSS, while bounded reads hold only the rows asked for (the
kernel's page cache still caches the file, outside the process).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pairsift.data import IMAGE, PoolReader
from pairsift.device import Compute
from pairsift.models.kmeans import KMeansConfig, assign, key_order, sample_mask, train

logger = logging.getLogger(__name__)

IMAGE_ONLY = frozenset({IMAGE})


class RowFile:
    """``(rows, dim)`` float32 rows in a raw file, read on demand with ``pread`` (no memory map).

    Indexing with a slice reads one contiguous range; with an integer array it reads the asked rows
    (runs of consecutive rows in one call each) and returns them in the asked order. Either way the
    result is a fresh ndarray: memory is what was asked for, not what was touched before.
    """

    ndim = 2

    def __init__(self, path: Path, rows: int, dim: int) -> None:
        self.path, self.shape = path, (rows, dim)
        self._row_bytes = 4 * dim
        self._fd: int | None = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _read(self, first: int, count: int, out: np.ndarray) -> None:
        if self._fd is None:
            raise ValueError(f"embedding cache {self.path} is closed")
        view = memoryview(out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
        offset, done, size = first * self._row_bytes, 0, count * self._row_bytes
        while done < size:
            got = os.preadv(self._fd, [view[done:size]], offset + done)
            if got <= 0:
                raise OSError(f"embedding cache {self.path}: short read at byte {offset + done}")
            done += got

    def __getitem__(self, index: slice | np.ndarray) -> np.ndarray:
        rows, dim = self.shape
        if isinstance(index, slice):
            start, stop, step = index.indices(rows)
            if step != 1:
                raise IndexError("RowFile: slices with a step are not supported")
            out = np.empty((max(0, stop - start), dim), dtype=np.float32)
            if len(out):
                self._read(start, len(out), out)
            return out
        wanted = np.asarray(index, dtype=np.int64).reshape(-1)
        if len(wanted) and (wanted.min() < 0 or wanted.max() >= rows):
            raise IndexError(f"RowFile: row index out of range 0..{rows - 1}")
        order = np.argsort(wanted, kind="stable")
        ranked = wanted[order]
        out = np.empty((len(wanted), dim), dtype=np.float32)
        if not len(wanted):
            return out
        # runs of consecutive (or repeated) rows: one read each, into a sorted buffer
        unique = np.unique(ranked)
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        buffer = np.empty((len(unique), dim), dtype=np.float32)
        for run in np.split(np.arange(len(unique)), breaks):
            self._read(int(unique[run[0]]), len(run), buffer[run[0] : run[-1] + 1])
        position = np.searchsorted(unique, ranked)
        out[order] = buffer[position]
        return out


@dataclass
class ClusteredPool:
    """Valid rows of the pool in pool order (shards in order, then rows), with their clusters."""

    shards: list[str]
    #: per shard: which rows are valid (the others get NaN)
    valid: dict[str, np.ndarray]
    #: ``(n, 2)`` uint64 uid keys of the valid rows
    keys: np.ndarray
    #: ``(n, d)`` float32 unit embeddings of the valid rows (a :class:`RowFile` on local disk, or an
    #: in-memory array)
    cache: np.ndarray | RowFile
    centroids: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: each row's dot product with its own centroid
    centroid_sim: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def dim(self) -> int:
        return int(self.cache.shape[1]) if self.cache.ndim == 2 else 0

    def close(self) -> None:
        """Close the embedding cache (before its folder is deleted)."""
        if isinstance(self.cache, RowFile):
            self.cache.close()
        self.cache = np.zeros((0, 0), np.float32)

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
    cache: np.ndarray | RowFile = RowFile(path, rows, dim) if rows else np.zeros((0, 0), np.float32)
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
