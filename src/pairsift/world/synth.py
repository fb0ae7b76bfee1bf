"""Synthetic DataComp-layout pools for the demo, tests and benchmarks.

Samples are drawn from clusters ("concepts"); a clean caption shares its image's concept and an
instance-specific part, and planted kinds of bad pairs have known effects on the scores:

- ``clean``: image and text of the same concept;
- ``mismatched``: the text belongs to another sample;
- ``boilerplate``: a generic caption, similar to every image — CLIPScore is fooled, negCLIPLoss is not;
- ``off_target``: image far from the concepts the target set covers.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN, image_key, text_key
from pairsift.io.fs import atomic_write
from pairsift.uids import format_uids

KINDS = ("clean", "mismatched", "boilerplate", "off_target")


@dataclass(frozen=True)
class SynthConfig:
    shards: int = 4
    rows_per_shard: int = 1000
    dim: int = 64
    concepts: int = 64
    target_concepts: int = 32
    family: str = "l14"
    dtype: str = "float16"
    kind_shares: tuple[float, ...] = (0.7, 0.1, 0.1, 0.1)
    seed: int = 0


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class World:
    """The latent geometry shared by a pool and its target set.

    Like real CLIP spaces, every image shares a common direction and every text another one
    (the "cone"), concepts add their own directions, and each pair shares an instance-specific part.
    A boilerplate caption ("stock photo") leans towards the common image direction: about as similar
    to its own image as a good caption is, but just as similar to *every other* image.
    """

    def __init__(self, config: SynthConfig) -> None:
        rng = np.random.default_rng([config.seed, 1])
        self.config = config
        d = config.dim
        self.image_axis = _unit(rng.standard_normal(d))
        self.text_axis = _unit(rng.standard_normal(d))
        self.centers = _unit(rng.standard_normal((config.concepts, d)))

    def _noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_normal((n, self.config.dim)) / np.sqrt(self.config.dim)

    def _image_parts(self, concepts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        instance = self._noise(rng, len(concepts))
        return _unit(1.2 * self.image_axis + self.centers[concepts] + 0.9 * instance), instance

    def images(self, concepts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self._image_parts(concepts, rng)[0]

    def texts(self, concepts: np.ndarray, instance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _unit(
            1.2 * self.text_axis
            + self.centers[concepts]
            + 0.9 * instance
            + 0.6 * self._noise(rng, len(concepts))
        )

    def targets(self, count: int, seed: int = 7) -> np.ndarray:
        """Target image embeddings from the first ``target_concepts`` concepts."""
        rng = np.random.default_rng([self.config.seed, seed])
        concepts = rng.integers(0, self.config.target_concepts, count)
        return self.images(concepts, rng).astype(np.float32)

    def shard(self, index: int) -> tuple[pa.Table, dict[str, np.ndarray]]:
        c = self.config
        rng = np.random.default_rng([c.seed, 100 + index])
        n = c.rows_per_shard
        kinds = rng.choice(len(KINDS), size=n, p=np.asarray(c.kind_shares) / sum(c.kind_shares))
        concepts = rng.integers(0, c.target_concepts, n)
        off = kinds == KINDS.index("off_target")
        concepts[off] = rng.integers(c.target_concepts, c.concepts, int(off.sum()))
        img, instance = self._image_parts(concepts, rng)
        txt = self.texts(concepts, instance, rng)
        mism = np.flatnonzero(kinds == KINDS.index("mismatched"))
        txt[mism] = self.texts(rng.integers(0, c.concepts, len(mism)), self._noise(rng, len(mism)), rng)
        boiler = np.flatnonzero(kinds == KINDS.index("boilerplate"))
        txt[boiler] = _unit(
            1.2 * self.text_axis
            + 1.3 * self.image_axis
            + 0.35 * instance[boiler]
            + 0.3 * self._noise(rng, len(boiler))
        )
        keys = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).astype(np.uint64)
        keys[:, 0] ^= np.uint64(index) << np.uint64(40)
        table = pa.table(
            {
                UID_COLUMN: pa.array(format_uids(keys), pa.string()),
                "url": pa.array([f"https://example.com/{index}/{i}.jpg" for i in range(n)]),
                "text": pa.array([f"synthetic caption {KINDS[k]} {i}" for i, k in enumerate(kinds)]),
                "kind": pa.array([KINDS[k] for k in kinds]),
            }
        )
        dtype = np.dtype(c.dtype)
        arrays = {image_key(c.family): img.astype(dtype), text_key(c.family): txt.astype(dtype)}
        return table, arrays


def write_pool(directory: str | Path, config: SynthConfig | None = None) -> Path:
    """Write ``shards`` pairs of ``NNNNNNNN.parquet`` + ``NNNNNNNN.npz`` into ``directory``."""
    config = config or SynthConfig()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    world = World(config)
    for index in range(config.shards):
        table, arrays = world.shard(index)
        stem = directory / f"{index:08d}"
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        atomic_write(stem.with_suffix(".npz"), partial(_write_bytes, buf.getvalue()))
        atomic_write(stem.with_suffix(".parquet"), partial(pq.write_table, table))
    return directory


def _write_bytes(data: bytes, fh: IO[bytes]) -> None:
    fh.write(data)


def write_targets(path: str | Path, config: SynthConfig | None = None, count: int = 500) -> Path:
    """Write target image embeddings (``.npy``) drawn from the world's target concepts."""
    path = Path(path)
    targets = World(config or SynthConfig()).targets(count)
    atomic_write(path, lambda fh: np.save(fh, targets))
    return path
