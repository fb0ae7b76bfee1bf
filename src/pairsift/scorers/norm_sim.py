"""NormSim_p (METHODS.md §3): the p-norm of a pool image's similarities to a target image set.

    NormSim_p(i) = (Σ_t |g_t · f_i|^p)^(1/p)      NormSim_∞(i) = max_t |g_t · f_i|

p = 2 uses ``NormSim_2(i)² = f_iᵀ (GᵀG) f_i`` with the d×d matrix computed once (N/d times cheaper);
every other p streams the targets in tiles so memory stays bounded whatever N is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from pairsift.data import IMAGE, EmbeddingBatch, select_rows
from pairsift.device import Compute
from pairsift.errors import InputError
from pairsift.io.targets import load_targets
from pairsift.scorers.base import Scorer, register


def parse_p(p: Any) -> float:
    """``2``, ``"inf"``, ``"infinity"`` or any float >= 1."""
    if isinstance(p, str) and p.strip().lower() in ("inf", "infinity", "max"):
        return math.inf
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"p must be a number >= 1 or 'inf', got {p!r}") from None
    if not value >= 1:
        raise ValueError(f"p must be >= 1 or 'inf', got {p!r}")
    return value


#: Rows per float32 product in :func:`gram`, and rows per batched call (16 products).
GRAM_GROUP = 2048
GRAM_CHUNK = 16 * GRAM_GROUP


def gram(rows: np.ndarray | torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
    """``Σ a aᵀ`` over the rows: float64 d×d, on ``device`` (default: the rows' own, or cpu).

    The bytes depend on the rows alone, never on the thread count or memory alignment: a
    multi-threaded GEMM may split the summed dimension between threads, so the rows are cut into
    fixed groups instead, each multiplied within one thread (one batched call, parallel over
    groups), and the float32 products are added in float64 in group order. A resumed NormSim run,
    here or on a machine with other cores, therefore repeats every bit (and every NormSim-D drop).
    """
    if device is None:
        device = rows.device if isinstance(rows, torch.Tensor) else torch.device("cpu")
    n, d = rows.shape
    acc = torch.zeros(d, d, dtype=torch.float64, device=device)
    buf = torch.empty(0, device=device)
    for start in range(0, n, GRAM_CHUNK):
        part = as_float32(rows[start : start + GRAM_CHUNK])
        size = min(GRAM_GROUP, -(-len(part) // 2))  # two groups at least: never one lone GEMM
        groups = -(-len(part) // size)
        if buf.numel() < groups * size * d:
            buf = torch.empty(groups * size * d, device=device)  # torch-owned, 64-byte aligned
        stacked = buf[: groups * size * d].view(groups * size, d)
        stacked[: len(part)].copy_(part)
        stacked[len(part) :] = 0  # padding rows add exact zeros
        grouped = stacked.view(groups, size, d)
        products = torch.bmm(grouped.transpose(1, 2), grouped)
        for k in range(groups):
            acc += products[k].double()
    return acc


def as_float32(rows: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A float32 tensor of ``rows`` (numpy arrays are shared when writable, else copied)."""
    if isinstance(rows, torch.Tensor):
        return rows.float()
    return torch.from_numpy(np.require(rows, np.float32, ["C", "W"]))


def quadratic_form(f: torch.Tensor, matrix: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """``f_iᵀ M f_i`` for every row of ``f``, in row chunks through one reused buffer."""
    out = torch.empty(f.shape[0], dtype=matrix.dtype, device=f.device)
    buf = torch.empty(min(chunk, f.shape[0]) * matrix.shape[1], dtype=matrix.dtype, device=f.device)
    for start in range(0, f.shape[0], chunk):
        rows = f[start : start + chunk]
        prod = buf[: rows.shape[0] * matrix.shape[1]].view(rows.shape[0], matrix.shape[1])
        torch.mm(rows, matrix, out=prod)
        torch.sum(prod.mul_(rows), dim=1, out=out[start : start + chunk])
    return out


def streamed_norm(f: torch.Tensor, targets: torch.Tensor, p: float, compute: Compute) -> torch.Tensor:
    """``(Σ_t |f_i·g_t|^p)^(1/p)`` (max for p = ∞) with f and targets tiled.

    Row blocks of f are independent (each owns its slice of the result), so on CPU they run one per
    thread (:meth:`~pairsift.device.Compute.map_blocks`).
    """
    n, m = f.shape[0], targets.shape[0]
    rows, cols = compute.reduce_tiles(max(n, m))
    acc = torch.zeros(n, device=f.device)

    def block(i0: int) -> None:
        i1 = min(i0 + rows, n)
        buf = torch.empty((i1 - i0) * cols, device=f.device)
        for j0 in range(0, m, cols):
            j1 = min(j0 + cols, m)
            sim = buf[: (i1 - i0) * (j1 - j0)].view(i1 - i0, j1 - j0)
            compute.matmul(f[i0:i1], targets[j0:j1].T, out=sim)
            if math.isinf(p):  # abs_ in place, then one reduction: measured cheaper than aminmax
                torch.maximum(acc[i0:i1], sim.abs_().amax(dim=1), out=acc[i0:i1])
            else:
                acc[i0:i1] += sim.abs_().pow_(p).sum(dim=1)

    compute.map_blocks(block, range(0, n, rows))
    return acc if math.isinf(p) else acc.pow_(1.0 / p)


@register("norm_sim")
class NormSim(Scorer):
    """NormSim_p against the image embeddings in ``target``. Image side only, absolute values.

    Cost per sample: 2·d² flops for p = 2 (after a one-off 2·N·d²), 2·N·d flops otherwise.
    """

    requires = frozenset({IMAGE})

    def __init__(
        self,
        *,
        target: str | None = None,
        p: Any = 2,
        target_key: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not target:
            raise ValueError("norm_sim needs target=<file of target image embeddings>")
        self.target = str(target)
        self.p = parse_p(p)
        self.target_key = target_key

    def default_column(self) -> str:
        if math.isinf(self.p):
            return "norm_sim_inf"
        if self.p == int(self.p):
            return f"norm_sim_{int(self.p)}" if self.p == 2 else f"norm_sim_p{int(self.p)}"
        return f"norm_sim_p{self.p:g}"

    def params(self) -> dict[str, Any]:
        p: Any = "inf" if math.isinf(self.p) else self.p
        return {**super().params(), "target": self.target, "p": p, "target_key": self.target_key}

    def setup(self, compute: Compute, *, family: str) -> None:
        targets = torch.from_numpy(load_targets(self.target, key=self.target_key, family=family))
        self.dim_ = targets.shape[1]
        self.count_ = targets.shape[0]
        if self.p == 2:
            self.moment_ = gram(targets, compute.device).float()
        else:
            self.targets_ = compute.operand(targets)

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        if not hasattr(self, "dim_"):
            raise RuntimeError("norm_sim: call setup() before scoring")
        assert batch.image is not None
        if batch.image.shape[1] != self.dim_:
            raise InputError(
                f"shard {batch.shard!r}: image embeddings have dimension {batch.image.shape[1]} but "
                f"target file {self.target} has dimension {self.dim_}"
            )
        f = torch.from_numpy(select_rows(batch.image, valid)).to(compute.device)
        if self.p == 2:
            values = quadratic_form(f, self.moment_).clamp_(min=0).sqrt_()
        else:
            values = streamed_norm(compute.operand(f), self.targets_, self.p, compute)
        return values.float().cpu().numpy()
