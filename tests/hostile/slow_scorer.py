"""A test-only plugin scorer that holds a shard while a file exists, for subprocess tests.

Only subprocesses import it (``--plugin tests.hostile.slow_scorer``): importing it here would add a
scorer to the registry that the scorer contract test checks.

``hold_while=PATH``: each shard first writes ``PATH.<pid>.started`` (so a test knows which processes are
scoring), then sleeps while ``PATH`` exists (at most ``limit`` seconds), then scores 0.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from pairsift.data import EmbeddingBatch
from pairsift.device import Compute
from pairsift.scorers import Scorer, register


@register("hostile_hold")
class Hold(Scorer):
    requires = frozenset({"image"})

    def __init__(self, *, hold_while: str = "", limit: float = 60.0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.hold_while, self.limit = str(hold_while), float(limit)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "hold_while": self.hold_while, "limit": self.limit}

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        hold = Path(self.hold_while)
        Path(f"{hold}.{os.getpid()}.started").touch()
        deadline = time.monotonic() + self.limit
        while hold.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return np.zeros(int(valid.sum()), dtype=np.float32)
