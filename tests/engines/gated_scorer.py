"""A test-only plugin scorer that holds every shard until a gate file exists (so that a test can take a
Ray node away while shards are running on it), then scores like ``clip_score``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from pairsift.data import EmbeddingBatch, select_rows
from pairsift.device import Compute
from pairsift.scorers import Scorer, register

COLUMN = "gated_clip"
#: seconds a held shard waits at most for its gate
PATIENCE = 120.0


@register(COLUMN)
class GatedClip(Scorer):
    """``f_i · g_i`` once ``<gate>`` exists; each call first touches ``<gate>.started/<pid>``."""

    requires = frozenset({"image", "text"})

    def __init__(self, *, gate: Any = "", name: str | None = None) -> None:
        super().__init__(name=name)
        self.gate = str(gate)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "gate": self.gate}

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        gate = Path(self.gate)
        started = Path(f"{gate}.started")
        started.mkdir(exist_ok=True)
        (started / str(os.getpid())).touch()  # one file per worker process that holds a shard
        deadline = time.monotonic() + PATIENCE
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert batch.image is not None and batch.text is not None
        f = select_rows(batch.image, valid).astype(np.float32, copy=False)
        g = select_rows(batch.text, valid).astype(np.float32, copy=False)
        return np.einsum("ij,ij->i", f, g, dtype=np.float32)
