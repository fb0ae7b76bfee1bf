"""Obviously-correct selection over a fully materialised pool (lists and sorting)."""

from __future__ import annotations

import numpy as np


def top(values: np.ndarray, uids: np.ndarray, current: np.ndarray, k: int) -> np.ndarray:
    """Exact top k of ``current`` rows by value, ties by ascending uid; NaN never kept."""
    rows = [i for i in np.flatnonzero(current) if np.isfinite(values[i])]
    rows.sort(key=lambda i: (-float(values[i]), int(uids[i], 16)))
    keep = np.zeros(len(values), dtype=bool)
    keep[rows[:k]] = True
    return keep


def datacomp(values: np.ndarray, current: np.ndarray, fraction: float, base: int) -> np.ndarray:
    """DataComp's baseline over the ``current`` rows: ``t = -sort(-x)[int(base·f)]``, keep ``x >= t``.

    NaN sorts last, so a position past the finite values gives a NaN threshold (nothing kept).
    """
    ordered = -np.sort(-values[current])
    keep = np.zeros(len(values), dtype=bool)
    keep[current] = values[current] >= ordered[int(base * fraction)]
    return keep
