"""The map side of the report's statistics: one pass over one score table, as an engine task.

:class:`StatsPass` (pass 1) reads a table's status, score and (when subsets or labels are shown) uid
columns and returns a :class:`ShardStats`: the table's exact :class:`Sums` (statuses, moments,
correlation sums, subset overlap, label counts) and its part of the row sample and of every gallery
(each a :class:`~pairsift.report.sampling.KBest` of at most ``k`` rows). :class:`HistogramPass`
(pass 2, once the driver knows each column's range) returns the table's histogram counts.

A task holds one table; the subsets and labels it tests rows against travel as their file names and
are read once per worker. The driver (:mod:`pairsift.report.gather`) merges.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pairsift.data import OK, STATUS_COLUMN, UID_COLUMN
from pairsift.errors import InputError
from pairsift.io.location import Location, read_parquet, read_parquet_schema
from pairsift.report.galleries import Key, ShardView
from pairsift.report.labels import LabelIndex
from pairsift.report.sampling import KBest
from pairsift.report.selections import Membership
from pairsift.report.stats import Correlation, Histogram, LabelCounts, Moments, Overlap
from pairsift.select.tables import ScoreTables
from pairsift.uids import parse_uids


@dataclass
class Sums:
    """Exact statistics of one table or, merged in shard order, of the whole run."""

    rows: int
    statuses: Counter[str]
    moments: dict[str, Moments]
    correlation: Correlation
    overlap: Overlap
    labels: LabelCounts | None

    @classmethod
    def empty(cls, scores: tuple[str, ...], subsets: int, labels: int | None) -> Sums:
        counts = None if labels is None else LabelCounts(labels, subsets)
        moments = {c: Moments() for c in scores}
        return cls(0, Counter(), moments, Correlation(len(scores)), Overlap(subsets), counts)

    def merge(self, other: Sums) -> None:
        self.rows += other.rows
        self.statuses.update(other.statuses)
        for column, moments in self.moments.items():
            moments.merge(other.moments[column])
        self.correlation.merge(other.correlation)
        self.overlap.merge(other.overlap)
        if self.labels is not None and other.labels is not None:
            self.labels.merge(other.labels)


@dataclass
class ShardStats:
    """What pass 1 returns for one table (``index``: its position among the run's tables)."""

    index: int
    sums: Sums
    sample: KBest
    picks: list[KBest]


@dataclass
class _TablePass:
    """A task over the run's score tables: a shard name -> its table and its position."""

    run_dir: str
    selections: tuple[Membership, ...]

    def setup(self) -> None:
        self._tables = ScoreTables(self.run_dir)
        self._index = {s: i for i, s in enumerate(self._tables.shards)}

    def _read(self, shard: str, columns: list[str]) -> pa.Table:
        return read_columns(self._tables.paths[shard], columns)


@dataclass
class StatsPass(_TablePass):
    """Pass 1 on one table: its :class:`ShardStats`."""

    scores: tuple[str, ...]
    labels: LabelIndex | None
    keys: tuple[Key, ...]  #: the galleries' keys
    sample: int  #: rows in the row sample
    cards: int  #: rows per gallery
    seed: int

    def __call__(self, shard: str) -> ShardStats:
        index = self._index[shard]
        need_uids = bool(self.selections) or self.labels is not None
        table = self._read(shard, [STATUS_COLUMN, *self.scores] + ([UID_COLUMN] if need_uids else []))
        sums = Sums.empty(self.scores, len(self.selections), self._label_names())
        status = table.column(STATUS_COLUMN)
        for entry in pc.value_counts(status).to_pylist():
            sums.statuses[str(entry["values"])] += int(entry["counts"])
        keys, ok = parse_uids(table.column(UID_COLUMN)) if need_uids else (np.zeros((0, 2), np.uint64), None)
        patterns = np.zeros(table.num_rows, dtype=np.uint8)
        if self.selections and ok is not None:
            patterns = membership_patterns(self.selections, keys, ok)
        sums.rows = table.num_rows
        sums.overlap.add(patterns)
        if sums.labels is not None and self.labels is not None and ok is not None:
            sums.labels.add(self.labels.codes(keys, ok), patterns)
        values = {c: _floats(table.column(c)) for c in self.scores}
        for c in self.scores:
            sums.moments[c].add(values[c])
        sums.correlation.add([values[c] for c in self.scores])
        view = ShardView(
            index=index,
            name=shard,
            values=values,
            scored=np.asarray(pc.equal(status, OK).to_numpy(zero_copy_only=False), dtype=bool),
            patterns=patterns,
            priority=np.random.default_rng([self.seed, index]).random(table.num_rows),
        )
        return ShardStats(index, sums, self._sample(view), [self._picks(view, key) for key in self.keys])

    def _label_names(self) -> int | None:
        return None if self.labels is None else len(self.labels.names)

    def _sample(self, view: ShardView) -> KBest:
        rows = len(view.priority)
        matrix = (
            np.stack([view.values[c] for c in self.scores], axis=1) if self.scores else np.zeros((rows, 0))
        )
        sample = KBest(self.sample)
        sample.add(view.index, view.priority, {"values": matrix, "patterns": view.patterns})
        return sample

    def _picks(self, view: ShardView, key: Key) -> KBest:
        picks = KBest(self.cards)
        picks.add(view.index, key(view))
        return picks


@dataclass
class HistogramPass(_TablePass):
    """Pass 2 on one table: its counts in each column's bins (``overlay``: the subset drawn as kept)."""

    ranges: dict[str, tuple[float, float]]
    bins: int
    overlay: dict[str, int | None] = field(default_factory=dict)

    def __call__(self, shard: str) -> dict[str, Histogram]:
        bits = sorted({bit for bit in self.overlay.values() if bit is not None})
        table = self._read(shard, list(self.ranges) + ([UID_COLUMN] if bits else []))
        held = {}
        if bits:  # membership again, of the subsets drawn as kept only (the driver keeps nothing per row)
            keys, ok = parse_uids(table.column(UID_COLUMN))
            held = {bit: self.selections[bit].contains_keys(keys) & ok for bit in bits}
        out = {}
        for column, (low, high) in self.ranges.items():
            histogram = out[column] = Histogram(low, high, self.bins)
            bit = self.overlay.get(column)
            histogram.add(_floats(table.column(column)), None if bit is None else held[bit])
        return out


def membership_patterns(selections: tuple[Membership, ...], keys: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """One byte per row: bit ``i`` set when subset ``i`` holds the row's (well-formed) uid."""
    patterns = np.zeros(len(keys), dtype=np.uint8)
    for bit, selection in enumerate(selections):
        held = selection.contains_keys(keys) & ok
        patterns |= held.astype(np.uint8) << np.uint8(bit)
    return patterns


def read_columns(path: Location, columns: list[str]) -> pa.Table:
    """``columns`` of one score table, or an error naming the file and what is wrong with it."""
    try:
        names = read_parquet_schema(path).names
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputError(
                f"{path}: missing column(s) {missing} (found {names}); a run's score tables share one schema"
            )
        return read_parquet(path, columns=columns)
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"{path}: cannot read score table: {exc}") from exc


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float32)
