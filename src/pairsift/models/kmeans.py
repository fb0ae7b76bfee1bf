"""Spherical k-means on unit embeddings: training with faiss, exact assignment in row chunks.

* :func:`sample_mask` picks the training sample of a large pool from the uids alone (a seeded hash of
  each uid below ``p · 2⁶⁴``), so the sample does not depend on shard layout or row order.
* :func:`train` runs faiss's Lloyd iterations (``spherical``: centroids renormalised after each update)
  on the sample, rows in uid order, with a fixed OpenMP thread count (:attr:`KMeansConfig.threads`).
  faiss's inner-product search goes through its own BLAS, whose float32 dot products differ in the last
  bits between thread counts (measured with faiss-cpu 1.15.1: equal centroids and labels, unequal
  distances at 1/2/3 threads), so a near-tie may flip an assignment and move a centroid. The default of
  one thread makes the centroids the same on every machine of the same CPU family; a larger count is
  faster, and is recorded with the scorer's parameters in ``run.json`` (a resume with another count is
  refused). On a CUDA device, when faiss was built with GPU support, training runs there instead.
* :func:`assign` finds each row's nearest centroid by the largest dot product (ties: the lowest
  centroid index) with torch in chunks of rows, so memory is ``chunk · k`` floats whatever the pool;
  torch's float32 GEMM gives the same bytes at any thread count (the summed dimension is never split
  for these shapes; checked at 1 and 2 threads).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

logger = logging.getLogger(__name__)

#: rows per assignment product: ``chunk × k`` float32 similarities at a time
ASSIGN_CHUNK = 4096
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class KMeansConfig:
    """k-means settings: ``clusters`` (k), Lloyd ``iterations``, ``seed`` (faiss's initial centroids and
    the uid hash of the training sample) and the OpenMP ``threads`` faiss trains with."""

    clusters: int
    iterations: int = 20
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("clusters", "iterations", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"k-means {name} must be >= 1, got {getattr(self, name)!r}")


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return x ^ (x >> np.uint64(31))


def uid_hash(keys: np.ndarray, seed: int) -> np.ndarray:
    """A seeded 64-bit hash of ``(n, 2)`` uint64 uid keys."""
    keys = np.asarray(keys, dtype=np.uint64).reshape(-1, 2)
    first = _splitmix64(keys[:, 0] ^ _splitmix64(np.full(len(keys), seed, dtype=np.uint64)))
    return _splitmix64(first ^ keys[:, 1])


def sample_mask(keys: np.ndarray, seed: int, size: int) -> np.ndarray:
    """Rows in the training sample: all of them when there are at most ``size``, else each row whose
    uid hash is below ``size / n · 2⁶⁴`` (about ``size`` rows; which ones depends on the uids only)."""
    n = len(keys)
    if n <= size:
        return np.ones(n, dtype=bool)
    limit = np.uint64(min(int(size / n * 2.0**64), 2**64 - 1))
    return uid_hash(keys, seed) < limit


def key_order(keys: np.ndarray) -> np.ndarray:
    """Row order ascending by uid key ``(hi, lo)``."""
    keys = np.asarray(keys, dtype=np.uint64).reshape(-1, 2)
    return np.lexsort((keys[:, 1], keys[:, 0]))


def train(sample: np.ndarray, config: KMeansConfig, *, device: torch.device | None = None) -> np.ndarray:
    """Centroids ``(k, d)`` float32 with unit rows from the ``(n, d)`` float32 ``sample`` (its row order
    matters: give it in uid order). k is ``min(config.clusters, n)``."""
    try:
        import faiss  # the 'dedup' extra
    except ImportError as exc:
        raise ImportError(
            "k-means (semdedup, image_based) needs faiss: pip install 'pairsift[dedup]'"
        ) from exc

    sample = np.ascontiguousarray(sample, dtype=np.float32)
    n, dim = sample.shape
    if n == 0:
        raise ValueError("k-means: no rows to train on")
    k = min(config.clusters, n)
    if k < config.clusters:
        logger.info("k-means: %d clusters asked for, %d training rows: using k = %d", config.clusters, n, k)
    clustering = faiss.Clustering(dim, k)
    clustering.niter = config.iterations
    clustering.seed = config.seed
    clustering.spherical = True
    clustering.verbose = False
    clustering.min_points_per_centroid = 1
    clustering.max_points_per_centroid = max(n, 1)  # never subsample again: the sample is ours
    index = _index(faiss, dim, device)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(config.threads)
    try:
        clustering.train(sample, index)  # type: ignore[call-overload]
    finally:
        faiss.omp_set_num_threads(before)
    centroids = faiss.vector_to_array(clustering.centroids).reshape(k, dim).astype(np.float32)
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    return centroids / np.where(norms > 0, norms, 1).astype(np.float32)


def _index(faiss: object, dim: int, device: torch.device | None) -> object:
    """A flat inner-product index: on the GPU when ``device`` is CUDA and faiss has GPU support."""
    if device is not None and device.type == "cuda" and getattr(faiss, "get_num_gpus", lambda: 0)() > 0:
        resources = faiss.StandardGpuResources()  # type: ignore[attr-defined]
        gpu_config = faiss.GpuIndexFlatConfig()  # type: ignore[attr-defined]
        gpu_config.device = device.index or 0
        logger.info("k-means: training on GPU %d with faiss", gpu_config.device)
        return faiss.GpuIndexFlatIP(resources, dim, gpu_config)  # type: ignore[attr-defined]
    return faiss.IndexFlatIP(dim)  # type: ignore[attr-defined]


class Rows(Protocol):
    """``(n, d)`` float32 rows readable by slices: an ndarray, or a file read on demand."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice) -> np.ndarray: ...


def assign(
    rows: np.ndarray | Rows, centroids: torch.Tensor, *, chunk: int = ASSIGN_CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of every row (largest dot product, ties to the lowest index) and that dot
    product: ``(int64 labels, float32 similarities)``. ``centroids`` is a float32 tensor on the device
    the products run on; ``rows`` are read ``chunk`` at a time (a file-backed reader stays on disk)."""
    n = len(rows)
    labels = np.empty(n, dtype=np.int64)
    sims = np.empty(n, dtype=np.float32)
    if n == 0:
        return labels, sims
    width = centroids.shape[0]
    buf = torch.empty(min(chunk, n) * width, device=centroids.device)
    for start in range(0, n, chunk):
        block = torch.from_numpy(np.require(rows[start : start + chunk], np.float32, ["C", "W"]))
        block = block.to(centroids.device)
        sim = buf[: len(block) * width].view(len(block), width)
        torch.mm(block, centroids.T, out=sim)
        best, index = sim.max(dim=1)
        labels[start : start + len(block)] = index.cpu().numpy()
        sims[start : start + len(block)] = best.cpu().numpy()
    return labels, sims
