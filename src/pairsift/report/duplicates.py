"""Report galleries of the dedup and decontamination scorers: duplicate groups and flagged rows.

**Duplicate groups** (``semdedup``): a text column ``<name>_duplicate_of`` beside the score ``<name>``
names, for each removed row, the uid of the kept row of its group. One pass over the uid and that column
counts every group's removed members; the ``groups`` largest (ties: the smaller kept uid) each become a
gallery, the kept row first, then its removed members, most similar first. Memory: one entry per removed
row (its shard, row and group), not per pool row.

**Decontamination hits** (``decontaminate``): float columns ``<name>_flagged`` and ``<name>_match``
beside ``<name>``: one gallery of the flagged rows, the most similar to a test image first; each card
shows the similarity and the matched row of the target file (the target holds embeddings only, so the
test image itself has no thumbnail).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN
from pairsift.report.galleries import Gallery, ShardView
from pairsift.report.run_info import RunInfo

DUPLICATE_SUFFIX = "_duplicate_of"
#: the kept row's key: above any similarity, so it comes first in its group's gallery
KEPT_KEY = 2.0


@dataclass
class Group:
    """One duplicate group: its kept uid and, per shard index, its rows (kept row included)."""

    column: str
    kept: str
    removed: int
    rows: dict[int, np.ndarray]


def duplicate_columns(info: RunInfo) -> list[str]:
    """Score columns whose ``<column>_duplicate_of`` text column names duplicate groups."""
    return [c for c in info.scores if f"{c}{DUPLICATE_SUFFIX}" in info.texts]


def decontamination_columns(info: RunInfo) -> list[str]:
    """Score columns with ``<column>_flagged`` and ``<column>_match`` beside them."""
    return [c for c in info.scores if f"{c}_flagged" in info.scores and f"{c}_match" in info.scores]


def find_groups(info: RunInfo, column: str, groups: int) -> list[Group]:
    """The ``groups`` largest duplicate groups of ``column`` (two passes over uid and duplicate_of)."""
    link = f"{column}{DUPLICATE_SUFFIX}"
    removed: list[tuple[int, np.ndarray, np.ndarray]] = []  # shard index, rows, kept uid per row
    sizes: Counter[str] = Counter()
    for index, shard in enumerate(info.shards):
        of = pq.read_table(info.tables.paths[shard], columns=[link]).column(link).to_pylist()
        rows = np.array([i for i, v in enumerate(of) if v], dtype=np.int64)
        kept = np.array([of[i] for i in rows], dtype=object)
        sizes.update(kept.tolist())
        removed.append((index, rows, kept))
    chosen = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:groups]
    found = {uid: Group(column, uid, count, {}) for uid, count in chosen}
    if not found:
        return []
    for index, rows, kept in removed:
        for uid, group in found.items():
            members = rows[kept == uid]
            if len(members):
                group.rows[index] = members
    for index, shard in enumerate(info.shards):
        uids = pq.read_table(info.tables.paths[shard], columns=[UID_COLUMN]).column(UID_COLUMN).to_pylist()
        for row, uid in enumerate(uids):
            root = found.get(uid)
            if root is not None:
                root.rows[index] = np.r_[root.rows.get(index, np.zeros(0, np.int64)), row]
    return list(found.values())


@dataclass(frozen=True)
class _GroupKey:
    group: Group

    def __call__(self, view: ShardView) -> np.ndarray:
        group = self.group
        keys = np.full(len(view.scored), -np.inf)
        rows = group.rows.get(view.index)
        if rows is not None:
            keys[rows] = view.values[group.column][rows].astype(np.float64)
            kept = view.values.get(f"{group.column}_kept")
            if kept is not None:
                keys[rows[kept[rows] == 1]] = KEPT_KEY
        return keys


def duplicate_galleries(info: RunInfo, groups: int) -> list[Gallery]:
    """A gallery per duplicate group, the largest groups of every dedup column."""
    out = []
    for column in duplicate_columns(info):
        for group in find_groups(info, column, groups):
            out.append(
                Gallery(
                    f"{column} duplicates",
                    f"{column} duplicate group of {group.kept}",
                    f"the kept sample first, then {group.removed} removed as its near-duplicates",
                    _GroupKey(group),
                )
            )
    return out


@dataclass(frozen=True)
class _Flagged:
    column: str

    def __call__(self, view: ShardView) -> np.ndarray:
        flagged = view.values[f"{self.column}_flagged"] == 1
        return np.where(flagged, view.values[self.column].astype(np.float64), -np.inf)


def decontamination_galleries(info: RunInfo) -> list[Gallery]:
    """One gallery of flagged rows per decontamination column."""
    return [
        Gallery(
            f"{column} hits",
            f"{column} hits",
            f"pool samples flagged as near-duplicates of a test image, most similar first "
            f"({column}_match: the test image's row in the target file)",
            _Flagged(column),
        )
        for column in decontamination_columns(info)
    ]
