"""Exact global top-k over per-shard score arrays, ties broken by uid (smaller uid first).

This in-memory version holds one float32 per sample; uids are fetched only for the samples tied
at the threshold. NaN scores are never selected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np


def top_k_masks(
    values: Mapping[str, np.ndarray],
    k: int,
    uid_keys: Callable[[str], np.ndarray],
) -> dict[str, np.ndarray]:
    """Boolean masks (per shard) of the ``k`` largest finite values of the whole pool.

    ``uid_keys(shard)`` returns that shard's ``(n, 2)`` uint64 uid keys; it is only called for shards
    holding a value tied with the k-th largest.
    """
    masks = {s: np.zeros(len(v), dtype=bool) for s, v in values.items()}
    finite = {s: np.isfinite(v) for s, v in values.items()}
    total = sum(int(f.sum()) for f in finite.values())
    if k <= 0:
        return masks
    if k >= total:
        return {s: f.copy() for s, f in finite.items()}
    pooled = np.concatenate([v[finite[s]] for s, v in values.items()])
    threshold = np.partition(pooled, total - k)[total - k]
    above = 0
    ties: list[tuple[np.ndarray, str, np.ndarray]] = []
    for shard, v in values.items():
        masks[shard] = v > threshold
        above += int(masks[shard].sum())
        tied = np.flatnonzero(v == threshold)
        if len(tied):
            ties.append((uid_keys(shard)[tied], shard, tied))
    need = k - above
    keys = np.concatenate([t[0] for t in ties])
    owner = np.concatenate([np.full(len(t[2]), i) for i, t in enumerate(ties)])
    rows = np.concatenate([t[2] for t in ties])
    order = np.lexsort((rows, keys[:, 1], keys[:, 0]))[:need]
    for i in order:
        masks[ties[owner[i]][1]][rows[i]] = True
    return masks
