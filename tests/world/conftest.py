"""One small world per test session, generated twice to check determinism."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pairsift.io.tars import read_samples
from pairsift.world import WorldConfig, WorldSummary, generate

CONFIG = WorldConfig(samples=700, shard_size=300, seed=7, task_samples=42, tasks=("shape", "colour", "count"))


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, WorldSummary]:
    out = tmp_path_factory.mktemp("world") / "w"
    return out, generate(out, CONFIG)


@pytest.fixture(scope="session")
def labels(world: tuple[Path, WorldSummary]) -> list[dict]:
    return pq.read_table(world[0] / "labels.parquet").to_pylist()


@pytest.fixture(scope="session")
def pool(world: tuple[Path, WorldSummary]) -> list[dict]:
    """Every pool sample as ``{"key", "image": bytes, "txt": str, "json": dict}``, in order."""
    import json

    samples = []
    for tar in sorted((world[0] / "pool").glob("*.tar")):
        for s in read_samples(str(tar)):
            samples.append(
                {
                    "key": s.key,
                    "image": s.member("jpg"),
                    "txt": (s.member("txt") or b"").decode(),
                    "json": json.loads(s.member("json") or b"{}"),
                }
            )
    return samples


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return np.asarray(image.convert("RGB"))
