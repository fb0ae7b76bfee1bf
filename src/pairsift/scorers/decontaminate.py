"""Decontamination (METHODS.md §9): flag pool images that are near-duplicates of evaluation test images.

    decontaminate(i) = max_t g_t · f_i        (g_t: unit test image embeddings, f_i: the pool image)

streamed over tiles of the test set as NormSim∞ is (signed here: a near-duplicate has cosine near +1).
Columns: ``decontaminate`` (that max, higher = more likely a leak), ``decontaminate_flagged`` ∈ {0, 1}
(max ≥ ``threshold``) and ``decontaminate_match`` (the row of the nearest test image in the target file,
as float32; exact below 2²⁴ rows). NaN on invalid rows. The ``decontaminate`` recipe keeps the unflagged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pairsift.data import IMAGE, EmbeddingBatch, select_rows
from pairsift.device import Compute
from pairsift.errors import InputError
from pairsift.io.targets import load_targets
from pairsift.params import float_param
from pairsift.scorers.base import Scorer, register

#: default flag threshold on the cosine: SemDeDup's near-duplicate line at its default eps (1 − 0.05)
DEFAULT_THRESHOLD = 0.95


@register("decontaminate")
class Decontaminate(Scorer):
    """Max cosine of each pool image to a set of evaluation test images, and a flag above a threshold."""

    requires = frozenset({IMAGE})
    higher_is_better = False

    def __init__(
        self,
        *,
        target: str | None = None,
        target_key: str | None = None,
        threshold: Any = DEFAULT_THRESHOLD,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not target:
            raise ValueError("decontaminate needs target=<file of evaluation test image embeddings>")
        self.target = str(target)
        self.target_key = target_key
        self.threshold = float_param("threshold", threshold, low=-1, high=1)

    def output_columns(self) -> tuple[str, ...]:
        return (self.column, f"{self.column}_flagged", f"{self.column}_match")

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "target": self.target,
            "target_key": self.target_key,
            "threshold": self.threshold,
        }

    def setup(self, compute: Compute, *, family: str) -> None:
        targets = torch.from_numpy(load_targets(self.target, key=self.target_key, family=family))
        self.targets_ = compute.operand(targets)

    def score_columns(
        self, batch: EmbeddingBatch, compute: Compute, *, seed: int = 0
    ) -> dict[str, np.ndarray]:
        n = len(batch)
        best = np.full(n, np.nan, dtype=np.float32)
        match = np.full(n, np.nan, dtype=np.float32)
        valid = batch.valid(self.requires)
        if valid.any():
            value, index = self._nearest(batch, valid, compute)
            best[valid], match[valid] = value, index.astype(np.float32)
        flagged = np.where(np.isnan(best), np.nan, (best >= self.threshold).astype(np.float32))
        return {
            self.column: best,
            f"{self.column}_flagged": flagged.astype(np.float32),
            f"{self.column}_match": match,
        }

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        return self._nearest(batch, valid, compute)[0]

    def _nearest(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute
    ) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "targets_"):
            raise RuntimeError("decontaminate: call setup() before scoring")
        assert batch.image is not None
        if batch.image.shape[1] != self.targets_.shape[1]:
            raise InputError(
                f"shard {batch.shard!r}: image embeddings have dimension {batch.image.shape[1]} but "
                f"target file {self.target} has dimension {self.targets_.shape[1]}"
            )
        f = compute.operand(torch.from_numpy(select_rows(batch.image, valid)))
        value, index = streamed_max(f, self.targets_, compute)
        return value.cpu().numpy(), index.cpu().numpy()


def streamed_max(
    f: torch.Tensor, targets: torch.Tensor, compute: Compute
) -> tuple[torch.Tensor, torch.Tensor]:
    """``max_t f_i·g_t`` and its argmax t (first on ties), with f and the targets tiled."""
    n, m = f.shape[0], targets.shape[0]
    rows, cols = compute.reduce_tiles(max(n, m))
    best = torch.full((n,), -torch.inf, device=f.device)
    where = torch.zeros(n, dtype=torch.int64, device=f.device)

    def block(i0: int) -> None:  # each row block owns its slice of best and where
        i1 = min(i0 + rows, n)
        buf = torch.empty((i1 - i0) * cols, device=f.device)
        for j0 in range(0, m, cols):
            j1 = min(j0 + cols, m)
            sim = buf[: (i1 - i0) * (j1 - j0)].view(i1 - i0, j1 - j0)
            compute.matmul(f[i0:i1], targets[j0:j1].T, out=sim)
            value, index = sim.max(dim=1)
            better = value > best[i0:i1]
            best[i0:i1] = torch.where(better, value, best[i0:i1])
            where[i0:i1] = torch.where(better, index + j0, where[i0:i1])

    compute.map_blocks(block, range(0, n, rows))
    return best, where
