"""Slow, obviously-correct float64 implementations of METHODS.md, for checking the fast kernels."""

from __future__ import annotations

import math

import numpy as np


def unit64(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def clip_score(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    return (unit64(f) * unit64(g)).sum(axis=1)


def neg_clip_loss(f: np.ndarray, g: np.ndarray, partitions: list[list[np.ndarray]], tau: float) -> np.ndarray:
    """METHODS.md §2, given the K partitions (each a list of index arrays covering all rows)."""
    f, g = unit64(f), unit64(g)
    s_own = (f * g).sum(axis=1)
    norm = np.zeros(len(f))
    for batches in partitions:
        for idx in batches:
            sims = f[idx] @ g[idx].T
            row = tau * logsumexp(sims / tau, axis=1)
            col = tau * logsumexp(sims / tau, axis=0)
            norm[idx] += 0.5 * (row + col)
    return s_own - norm / len(partitions)


def norm_sim(f: np.ndarray, targets: np.ndarray, p: float) -> np.ndarray:
    sims = np.abs(unit64(f) @ unit64(targets).T)
    if math.isinf(p):
        return sims.max(axis=1)
    return (sims**p).sum(axis=1) ** (1 / p)


def top_k_by_uid(values: np.ndarray, uids: list[str], k: int) -> np.ndarray:
    """Indices of the k largest values, ties by ascending uid."""
    order = sorted(range(len(values)), key=lambda i: (-values[i], int(uids[i], 16)))
    return np.array(sorted(order[:k]), dtype=int)


def norm_sim_d(
    f: np.ndarray, g: np.ndarray, uids: list[str], fraction: float, target_fraction: float, iters: int
) -> tuple[np.ndarray, np.ndarray]:
    """METHODS.md §3 NormSim-D, all in memory; returns (candidate indices, survivor indices)."""
    f64 = unit64(f)
    n = len(f)
    cand = top_k_by_uid(clip_score(f, g), uids, int(fraction * n))
    m = int(target_fraction * n)
    moment = f64.T @ f64 / n
    alive = list(cand)
    per_round = math.ceil((len(cand) - m) / iters)
    for _ in range(iters):
        if len(alive) <= m:
            break
        scores = np.array([f64[i] @ moment @ f64[i] for i in alive])
        drop = set(np.array(alive)[np.argsort(scores, kind="stable")[: min(per_round, len(alive) - m)]])
        alive = [i for i in alive if i not in drop]
        kept = f64[alive]
        moment = kept.T @ kept / len(alive)
    return cand, np.array(sorted(alive), dtype=int)
