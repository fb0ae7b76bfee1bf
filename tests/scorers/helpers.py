"""Tiny in-memory pools for scorer tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import EmbeddingBatch, PoolReader
from pairsift.uids import format_uids


def random_uids(rng: np.random.Generator, n: int) -> np.ndarray:
    return format_uids(rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).astype(np.uint64))


def random_batch(
    n: int = 200, dim: int = 16, seed: int = 0, noise: float = 1.0, shard: str = "s0"
) -> EmbeddingBatch:
    rng = np.random.default_rng(seed)
    img = rng.standard_normal((n, dim)).astype(np.float32)
    txt = (img + noise * rng.standard_normal((n, dim))).astype(np.float32)
    uids = random_uids(rng, n)
    meta = {"meta_score": rng.standard_normal(n).astype(np.float32)}  # a metadata column (``column``)
    return EmbeddingBatch.build(shard, uids, image=img, text=txt, alt_text=alt_texts(uids), columns=meta)


WORDS = ("red", "blue", "circle", "star", "photo", "of", "two", "dog", "image", "on", "grass")


def phrase(uid: str, salt: int) -> str:
    """A short deterministic phrase of the world-ish words, from a uid."""
    code = int(uid[:8], 16) if len(uid) >= 8 and all(c in "0123456789abcdef" for c in uid[:8]) else len(uid)
    return " ".join(WORDS[(code >> (4 * i + salt)) % len(WORDS)] for i in range(3))


def alt_texts(uids: np.ndarray) -> np.ndarray:
    return np.array([phrase(str(u), 0) for u in uids], dtype=object)


def synthetic_captions(uids: np.ndarray, k: int = 3) -> list[list[str]]:
    """``k`` captions per uid, deterministic: what a caption cache would hold for a batch."""
    return [[phrase(str(u), s) for s in range(1, k + 1)] for u in uids]


class MemoryPool(PoolReader):
    """A PoolReader over in-memory batches."""

    def __init__(self, batches: list[EmbeddingBatch]) -> None:
        self.batches = {b.shard: b for b in batches}

    def shards(self) -> list[str]:
        return sorted(self.batches)

    def read(self, shard: str, requires: frozenset[str]) -> EmbeddingBatch:
        return self.batches[shard]


def write_cache(directory: Path, shard: str, uids: list[str], captions: list[list[str] | None]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    status = ["ok" if c else "corrupt_image" for c in captions]
    table = pa.table(
        {
            "uid": pa.array(uids, pa.string()),
            "key": pa.array([f"{i:04d}" for i in range(len(uids))], pa.string()),
            "status": pa.array(status, pa.string()),
            "captions": pa.array(captions, pa.list_(pa.string())),
        }
    )
    pq.write_table(table, directory / f"{shard}.parquet")
