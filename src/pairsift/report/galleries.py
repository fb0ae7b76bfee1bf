"""Which samples the galleries show: each gallery is a key per row, and the rows with the largest keys.

Per score column: the best and worst rows (by the column's orientation), and the borderline rows
nearest to where a selection cut it. Per pair of subsets: a uniform sample of the rows A keeps and B
drops (the key is a random number, masked). And a sample of the rows that could not be scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pairsift.report.run_info import RunInfo
from pairsift.report.sampling import KBest
from pairsift.report.selections import Selection


@dataclass
class ShardView:
    """One shard's rows as the report's passes see them."""

    index: int
    name: str
    values: dict[str, np.ndarray]  #: score columns, float32
    scored: np.ndarray  #: status == ok
    patterns: np.ndarray  #: uint8 membership bits, one per subset
    priority: np.ndarray  #: uniform random numbers, the sampling key


#: a row's key in a gallery; picklable (a module-level function or a small dataclass), since the
#: report's engine tasks apply it to their shard
Key = Callable[[ShardView], np.ndarray]


@dataclass
class Gallery:
    group: str  #: the section it appears under (a score column, or "subsets")
    title: str
    note: str
    key: Key
    picks: KBest = field(default_factory=lambda: KBest(0))


def _masked(priority: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask, priority, -np.inf)


@dataclass(frozen=True)
class _Best:
    column: str
    sign: float

    def __call__(self, view: ShardView) -> np.ndarray:
        return self.sign * view.values[self.column].astype(np.float64)


@dataclass(frozen=True)
class _Near:
    column: str
    threshold: float

    def __call__(self, view: ShardView) -> np.ndarray:
        return -np.abs(view.values[self.column].astype(np.float64) - self.threshold)


@dataclass(frozen=True)
class _KeptNot:
    a: int
    b: int

    def __call__(self, view: ShardView) -> np.ndarray:
        held = ((view.patterns >> self.a) & 1 == 1) & ((view.patterns >> self.b) & 1 == 0)
        return _masked(view.priority, held)


def _not_scored(view: ShardView) -> np.ndarray:
    return _masked(view.priority, ~view.scored)


def score_galleries(info: RunInfo, selections: list[Selection]) -> list[Gallery]:
    """Best, worst and (where a subset cut it) borderline rows of every score column."""
    galleries = []
    for column in info.scores:
        sign = 1.0 if info.higher_is_better(column) else -1.0
        way = "highest" if sign > 0 else "lowest"
        other = "lowest" if sign > 0 else "highest"
        galleries.append(Gallery(column, f"best by {column}", f"the {way} values", _Best(column, sign)))
        galleries.append(Gallery(column, f"worst by {column}", f"the {other} values", _Best(column, -sign)))
        cut = next(((s, t) for s in selections for t in s.thresholds.get(column, [])), None)
        if cut is not None:
            selection, threshold = cut
            galleries.append(
                Gallery(
                    column,
                    f"borderline of {column}",
                    f"nearest to {threshold.value:.4g}, where {selection.name} cut ({threshold.rule})",
                    _Near(column, threshold.value),
                )
            )
    return galleries


def subset_galleries(selections: list[Selection], pairs_among: int) -> list[Gallery]:
    """ "Kept by A, dropped by B" for every ordered pair among the first ``pairs_among`` subsets."""
    first = selections[:pairs_among]
    return [
        Gallery(
            "subsets",
            f"kept by {a.name}, dropped by {b.name}",
            "a uniform sample of those rows",
            _KeptNot(i, j),
        )
        for i, a in enumerate(first)
        for j, b in enumerate(first)
        if i != j
    ]


def status_gallery() -> Gallery:
    return Gallery("status", "not scored", "a uniform sample of rows whose status is not ok", _not_scored)
