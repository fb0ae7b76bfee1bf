"""Two streaming passes over a run's score tables gather everything the report shows.

Pass 1 (one shard in memory at a time): statuses, per-column moments, Pearson correlations, subset
membership (kept as one byte per row), overlap and label counts, the random row sample and every
gallery's top-k. Pass 2: exact histograms, now that the ranges are known.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pairsift.data import OK, STATUS_COLUMN, UID_COLUMN
from pairsift.errors import InputError
from pairsift.io.location import read_parquet, read_parquet_schema
from pairsift.progress import track
from pairsift.report.config import ReportConfig
from pairsift.report.galleries import Gallery, ShardView
from pairsift.report.labels import LabelIndex
from pairsift.report.run_info import RunInfo
from pairsift.report.sampling import KBest
from pairsift.report.selections import Selection
from pairsift.report.stats import Correlation, Histogram, LabelCounts, Moments, Overlap, spearman
from pairsift.uids import parse_uids


@dataclass
class ReportData:
    info: RunInfo
    selections: list[Selection]
    galleries: list[Gallery]
    labels: LabelIndex | None
    rows: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    moments: dict[str, Moments] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    overlay: dict[str, int | None] = field(default_factory=dict)  #: column -> subset drawn as "kept"
    pearson: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    spearman: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    sample: KBest = field(default_factory=lambda: KBest(0))
    overlap: Overlap = field(default_factory=lambda: Overlap(0))
    label_counts: LabelCounts | None = None
    patterns: dict[int, np.ndarray] = field(default_factory=dict)  #: shard index -> membership bits


def gather(
    info: RunInfo,
    selections: list[Selection],
    galleries: list[Gallery],
    labels: LabelIndex | None,
    config: ReportConfig,
) -> ReportData:
    data = ReportData(info, selections, galleries, labels)
    data.moments = {c: Moments() for c in info.scores}
    data.sample = KBest(config.sample)
    data.overlap = Overlap(len(selections))
    if labels is not None:
        data.label_counts = LabelCounts(len(labels.names), len(selections))
    for gallery in galleries:
        gallery.picks = KBest(config.cards)
    correlation = Correlation(len(info.scores))
    statuses: Counter[str] = Counter()
    shards = info.shards
    for index, shard in enumerate(track(shards, "report: reading score tables")):
        view = _first_pass(data, index, shard, statuses, config)
        correlation.add([view.values[c] for c in info.scores])
    data.statuses = dict(sorted(statuses.items()))
    data.pearson = correlation.matrix()
    data.spearman = spearman(data.sample.payload.get("values", np.zeros((0, len(info.scores)))))
    _histograms(data, config.bins)
    return data


def _first_pass(
    data: ReportData, index: int, shard: str, statuses: Counter[str], config: ReportConfig
) -> ShardView:
    info = data.info
    need_uids = bool(data.selections) or data.labels is not None
    columns = [STATUS_COLUMN, *info.scores] + ([UID_COLUMN] if need_uids else [])
    table = _read(info, shard, columns)
    status = table.column(STATUS_COLUMN)
    for entry in pc.value_counts(status).to_pylist():
        statuses[str(entry["values"])] += int(entry["counts"])
    keys, ok = parse_uids(table.column(UID_COLUMN)) if need_uids else (np.zeros((0, 2), np.uint64), None)
    patterns = _patterns(data.selections, keys, ok, table.num_rows)
    data.rows += table.num_rows
    data.patterns[index] = patterns
    data.overlap.add(patterns)
    if data.label_counts is not None and data.labels is not None and ok is not None:
        codes = data.labels.codes(keys, ok)
        data.label_counts.add(codes, patterns)
    values = {c: _floats(table.column(c)) for c in info.scores}
    for c in info.scores:
        data.moments[c].add(values[c])
    rng = np.random.default_rng([config.seed, index])
    view = ShardView(
        index=index,
        name=shard,
        values=values,
        scored=np.asarray(pc.equal(status, OK).to_numpy(zero_copy_only=False), dtype=bool),
        patterns=patterns,
        priority=rng.random(table.num_rows),
    )
    matrix = (
        np.stack([values[c] for c in info.scores], axis=1) if info.scores else np.zeros((table.num_rows, 0))
    )
    data.sample.add(index, view.priority, {"values": matrix, "patterns": patterns})
    for gallery in data.galleries:
        gallery.picks.add(index, gallery.key(view))
    return view


def _patterns(selections: list[Selection], keys: np.ndarray, ok: np.ndarray | None, rows: int) -> np.ndarray:
    patterns = np.zeros(rows, dtype=np.uint8)
    for bit, selection in enumerate(selections):
        assert ok is not None
        held = selection.index.contains_keys(keys) & ok
        patterns |= held.astype(np.uint8) << np.uint8(bit)
    return patterns


def _histograms(data: ReportData, bins: int) -> None:
    info = data.info
    for c in info.scores:
        m = data.moments[c]
        if m.finite:
            data.histograms[c] = Histogram(m.low, m.high, bins)
            data.overlay[c] = _overlay(data.selections, c)
    if not data.histograms:
        return
    for index, shard in enumerate(track(info.shards, "report: histograms")):
        table = _read(info, shard, list(data.histograms))
        for c, histogram in data.histograms.items():
            bit = data.overlay[c]
            kept = None if bit is None else (data.patterns[index] >> bit) & 1 == 1
            histogram.add(_floats(table.column(c)), kept)


def _overlay(selections: list[Selection], column: str) -> int | None:
    """The first subset whose selection cut ``column``, else the first subset, else none."""
    for i, s in enumerate(selections):
        if column in s.thresholds:
            return i
    return 0 if selections else None


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float32)


def _read(info: RunInfo, shard: str, columns: list[str]) -> pa.Table:
    path = info.tables.paths[shard]
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
