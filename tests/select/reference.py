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
    """DataComp's baseline: threshold = -sort(-scores)[int(n·f)], keep everything >= it."""
    finite = current & np.isfinite(values)
    ordered = -np.sort(-values[finite])
    k = int(base * fraction)
    if k >= len(ordered):
        return finite
    return finite & (values >= ordered[k])
