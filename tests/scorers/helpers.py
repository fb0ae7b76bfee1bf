"""Tiny in-memory pools for scorer tests."""

from __future__ import annotations

import numpy as np

from pairsift.data import EmbeddingBatch, format_uids
from pairsift.scorers.base import PoolReader


def random_uids(rng: np.random.Generator, n: int) -> np.ndarray:
    return format_uids(rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).astype(np.uint64))


def random_batch(
    n: int = 200, dim: int = 16, seed: int = 0, noise: float = 1.0, shard: str = "s0"
) -> EmbeddingBatch:
    rng = np.random.default_rng(seed)
    img = rng.standard_normal((n, dim)).astype(np.float32)
    txt = (img + noise * rng.standard_normal((n, dim))).astype(np.float32)
    return EmbeddingBatch.build(shard, random_uids(rng, n), image=img, text=txt)


class MemoryPool(PoolReader):
    """A PoolReader over in-memory batches."""

    def __init__(self, batches: list[EmbeddingBatch]) -> None:
        self.batches = {b.shard: b for b in batches}

    def shards(self) -> list[str]:
        return sorted(self.batches)

    def read(self, shard: str, requires: frozenset[str]) -> EmbeddingBatch:
        return self.batches[shard]
