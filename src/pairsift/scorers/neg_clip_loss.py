"""negCLIPLoss (METHODS.md §2): CLIPScore minus a CLIP-loss normalisation over random batches.

For one batch B, with ``d_i = s_ii / τ`` as a per-row and per-column shift,

    row(i) = τ·logsumexp_j s_ij/τ = s_ii + τ·log R_i,  R_i = Σ_j exp(s_ij/τ − d_i)
    col(i) = τ·logsumexp_j s_ji/τ = s_ii + τ·log C_i,  C_i = Σ_j exp(s_ji/τ − d_i)

so ``s_ii − ½(row + col) = −(τ/2)(log R_i + log C_i)``. Both sums contain the sample's own term
exp(0) = 1, so they never underflow; an overflow (a batch-mate more than ~88τ above the own pair)
shows up as ``inf`` and those rows or columns are recomputed with an exact max-shifted logsumexp.
The b×b similarity matrix is produced tile by tile and never materialised.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from pairsift.data import IMAGE, TEXT, EmbeddingBatch, select_rows
from pairsift.device import Compute
from pairsift.models.ids import TEMPERATURES
from pairsift.params import float_param, int_param
from pairsift.scorers.base import SCORERS, Scorer, register


def family_temperature(family: str) -> float:
    """The teacher's own τ for a known embedding family (:data:`~pairsift.models.ids.TEMPERATURES`),
    else :data:`DEFAULT_TAU`."""
    if family in TEMPERATURES:
        return TEMPERATURES.get(family)()
    return DEFAULT_TAU


DEFAULT_TAU = 0.01
REMAINDERS = ("balanced", "reference")
#: Exponents are clamped here before exp: e^-80 is still a normal float32, while denormal results
#: make exp and sum several times slower. A sum holds its own term e^0 = 1 and at most b others,
#: so the clamp changes it by less than b·e^-80 (relative), far below float32 resolution.
EXP_FLOOR = -80.0

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised over uint64 (wrap-around arithmetic is intended)."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return x ^ (x >> np.uint64(31))


def random_order(uid_keys: np.ndarray, seed: int, repetition: int) -> np.ndarray:
    """A seeded random order of rows that depends only on their uids.

    Rows are sorted by a 64-bit hash of (seed, repetition, uid), ties by uid, so the batches a
    sample lands in do not depend on its position in the shard (permutation equivariance).
    """
    salt = _mix64(np.array([seed * 1_000_003 + repetition], dtype=np.uint64))[0]
    h = _mix64(uid_keys[:, 0] ^ salt)
    h = _mix64(h ^ uid_keys[:, 1])
    return np.lexsort((uid_keys[:, 1], uid_keys[:, 0], h))


def batch_sizes(n: int, batch_size: int, remainder: str) -> list[int]:
    """Sizes of the batches one permutation of ``n`` rows is cut into.

    ``balanced``: ceil(n/b) batches whose sizes differ by at most one (our default).
    ``reference``: batches of exactly b and a short last one (the research code).
    """
    if n <= batch_size:
        return [n] if n else []
    if remainder == "reference":
        full, rest = divmod(n, batch_size)
        return [batch_size] * full + ([rest] if rest else [])
    count = math.ceil(n / batch_size)
    small, extra = divmod(n, count)
    return [small + 1] * extra + [small] * (count - extra)


def log_batch_sums(
    f: torch.Tensor, g: torch.Tensor, tau: float, compute: Compute
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log R, log C)`` of one batch (see module docstring), tiled over the m×m similarities.

    One exponential per similarity serves both sums: with ``h = d/2``,
    ``E_ij = exp(s_ij/τ − h_i − h_j)`` gives ``R_i = e^(M−h_i) Σ_j E_ij w_j`` and
    ``C_j = e^(M−h_j) Σ_i E_ij w_i`` with weights ``w = exp(h − M)``, ``M = max h``: two
    matrix–vector products of the same tile. The weights span ``e^(−spread/2)`` to 1, so this holds
    float32 resolution while the spread of the shifts is at most :data:`ONE_EXP_SPREAD`; wider
    batches take :func:`two_pass_sums`.
    """
    shift = torch.einsum("ij,ij->i", f, g) / tau
    if float(shift.max() - shift.min()) > ONE_EXP_SPREAD:
        return two_pass_sums(f, g, tau, compute)
    half = shift / 2
    top = half.max()
    weights = torch.exp(half - top)
    a, b = _shifted_operands(f / tau, g, half, compute)
    rows, cols = _weighted_exp_sums(a, b, half, weights, compute)
    log_rows = rows.log() + (top - half)
    log_cols = cols.log() + (top - half)
    if not (torch.isfinite(log_rows).all() and torch.isfinite(log_cols).all()):
        fs, gs = compute.operand(f / tau), compute.operand(g)
        _repair_overflow(log_rows, fs, gs, shift)
        _repair_overflow(log_cols, gs, fs, shift)
    return log_rows, log_cols


#: Largest spread (max − min over a batch) of the shifts ``d_i = s_ii/τ`` that the one-exponential
#: kernel takes: its weights reach e^(−spread/2) and its clamped terms e^EXP_FLOOR, so a floor term
#: weighs at most e^(EXP_FLOOR + spread/2) = e^−28 against a sum's own term (b·e^−28 < 1e-7 for
#: b ≤ 10^5). At τ = 0.01 this is a spread of 1.04 in cosine, far more than real batches show.
ONE_EXP_SPREAD = 104.0
#: On CPU the shifts ride in the GEMM as two extra operand columns; the inner dimension is padded
#: with zeros to a multiple of this (d = 768 + 2 → 784) to stay on the GEMM's fast path.
INNER_ALIGN = 16


def _shifted_operands(
    fs: torch.Tensor, g: torch.Tensor, half: torch.Tensor, compute: Compute
) -> tuple[torch.Tensor, torch.Tensor]:
    """GEMM operands whose product is ``s_ij/τ − h_i − h_j`` (CPU), or plain ``f/τ`` and ``g``.

    ``[f/τ, −h, 1, 0…] · [g, 1, −h, 0…]ᵀ`` folds both shifts into the matrix product, which saves two
    element-wise passes per tile. On CUDA the shifts stay out of the (possibly half-precision or TF32)
    product and are subtracted in float32 instead, see :func:`_weighted_exp_sums`.
    """
    if compute.is_cuda:
        return compute.operand(fs), compute.operand(g)
    m, d = fs.shape
    width = -(-(d + 2) // INNER_ALIGN) * INNER_ALIGN
    a = torch.zeros(m, width, dtype=fs.dtype, device=fs.device)
    b = torch.zeros(m, width, dtype=g.dtype, device=g.device)
    a[:, :d], a[:, d], a[:, d + 1] = fs, -half, 1.0
    b[:, :d], b[:, d], b[:, d + 1] = g, 1.0, -half
    return compute.operand(a), compute.operand(b)


def _weighted_exp_sums(
    a: torch.Tensor, b: torch.Tensor, half: torch.Tensor, weights: torch.Tensor, compute: Compute
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Σ_j E_ij w_j, Σ_i E_ij w_i)``, one exponential per similarity.

    The rows are cut into blocks of one tile's height; each block (one per CPU thread at a time, see
    :meth:`~pairsift.device.Compute.map_blocks`) sweeps its tiles and returns its row sums and its
    share of the column sums, which are added up in block order.
    """
    m = a.shape[0]
    side = min(compute.tile(m), m)

    def block(i0: int) -> tuple[torch.Tensor, torch.Tensor]:
        i1 = min(i0 + side, m)
        rows = torch.zeros(i1 - i0, device=a.device)
        cols = torch.zeros(m, device=a.device)
        buf = torch.empty((i1 - i0) * side, device=a.device)
        for j0 in range(0, m, side):
            j1 = min(j0 + side, m)
            tile = buf[: (i1 - i0) * (j1 - j0)].view(i1 - i0, j1 - j0)
            compute.matmul(a[i0:i1], b[j0:j1].T, out=tile)
            if compute.is_cuda:
                tile.sub_(half[i0:i1, None]).sub_(half[None, j0:j1])
            tile.clamp_(min=EXP_FLOOR).exp_()
            rows.addmv_(tile, weights[j0:j1])
            cols[j0:j1].addmv_(tile.T, weights[i0:i1])
        return rows, cols

    blocks = compute.map_blocks(block, range(0, m, side))
    cols = torch.zeros(m, device=a.device)
    for _, part in blocks:
        cols += part
    return torch.cat([rows for rows, _ in blocks]), cols


def two_pass_sums(
    f: torch.Tensor, g: torch.Tensor, tau: float, compute: Compute
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log R, log C)`` with one exponential pass per direction: any spread of the shifts."""
    m = f.shape[0]
    fs = compute.operand(f / tau)
    gs = compute.operand(g)
    shift = torch.einsum("ij,ij->i", f, g) / tau
    rows = torch.zeros(m, device=f.device)
    cols = torch.zeros(m, device=f.device)
    side = min(compute.tile(m), m)
    sim_buf = torch.empty(side * side, device=f.device)
    exp_buf = torch.empty(side * side, device=f.device)
    for i0 in range(0, m, side):
        i1 = min(i0 + side, m)
        for j0 in range(0, m, side):
            j1 = min(j0 + side, m)
            shape = (i1 - i0, j1 - j0)
            sim = sim_buf[: shape[0] * shape[1]].view(shape)
            tmp = exp_buf[: shape[0] * shape[1]].view(shape)
            compute.matmul(fs[i0:i1], gs[j0:j1].T, out=sim)
            torch.sub(sim, shift[i0:i1, None], out=tmp).clamp_(min=EXP_FLOOR).exp_()
            rows[i0:i1] += tmp.sum(dim=1)
            torch.sub(sim, shift[None, j0:j1], out=tmp).clamp_(min=EXP_FLOOR).exp_()
            cols[j0:j1] += tmp.sum(dim=0)
    log_rows, log_cols = rows.log(), cols.log()
    _repair_overflow(log_rows, fs, gs, shift)
    _repair_overflow(log_cols, gs, fs, shift)
    return log_rows, log_cols


def _repair_overflow(
    log_sums: torch.Tensor, a: torch.Tensor, b: torch.Tensor, shift: torch.Tensor, chunk: int = 1024
) -> None:
    """Recompute, with a max-shifted logsumexp, the entries whose shifted sum overflowed."""
    bad = torch.nonzero(~torch.isfinite(log_sums)).flatten()
    for start in range(0, len(bad), chunk):
        idx = bad[start : start + chunk]
        sims = (a[idx] @ b.T).float()
        log_sums[idx] = torch.logsumexp(sims, dim=1) - shift[idx]


@register("neg_clip_loss")
class NegClipLoss(Scorer):
    """negCLIPLoss averaged over ``k`` random partitions of each shard into batches of ``batch_size``.

    Cost: about 2·k·b·d flops per sample. Defaults (b = 32768, k = 10, τ = 0.01) are the authors'.
    """

    requires = frozenset({IMAGE, TEXT})
    uses_batchmates = True

    def __init__(
        self,
        *,
        batch_size: int = 32768,
        k: int = 10,
        tau: float | None = None,
        seed: int | None = None,
        remainder: str = "balanced",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if remainder not in REMAINDERS:
            raise ValueError(f"remainder must be one of {REMAINDERS}, got {remainder!r}")
        self.batch_size = int_param("batch_size", batch_size, minimum=1)
        self.k = int_param("k", k, minimum=1)
        self.tau = None if tau is None else float_param("tau", tau, low=0)
        self.seed = None if seed is None else int_param("seed", seed, minimum=0)
        self.remainder = remainder

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "batch_size": self.batch_size,
            "k": self.k,
            "tau": self.tau,
            "seed": self.seed,
            "remainder": self.remainder,
        }

    def setup(self, compute: Compute, *, family: str) -> None:
        if self.tau is None:
            self.tau = family_temperature(family)

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        assert batch.image is not None and batch.text is not None
        tau = self.tau if self.tau is not None else DEFAULT_TAU
        seed = self.seed if self.seed is not None else seed
        f = torch.from_numpy(select_rows(batch.image, valid)).to(compute.device)
        g = torch.from_numpy(select_rows(batch.text, valid)).to(compute.device)
        keys = batch.uid_keys[valid]
        total = torch.zeros(len(keys), dtype=torch.float64, device=f.device)
        for rep in range(self.k):
            order = torch.from_numpy(random_order(keys, seed, rep)).to(f.device)
            start = 0
            for size in batch_sizes(len(keys), self.batch_size, self.remainder):
                idx = order[start : start + size]
                start += size
                log_rows, log_cols = log_batch_sums(f[idx], g[idx], tau, compute)
                total[idx] += (log_rows + log_cols).double()
        return (-(tau / (2 * self.k)) * total).float().cpu().numpy()


#: the paper's latest arXiv version calls it s-CLIPLoss: the same scorer (and the same default column)
SCORERS.alias("s_clip_loss", "neg_clip_loss")
