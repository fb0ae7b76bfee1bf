"""The subsets a report shows: membership, and what ``pairsift select`` recorded about them.

A subset file ``A.npy`` made by ``pairsift select`` has its record ``A.npy.json`` beside it: the rules,
the funnel (rows kept after each rule) and the threshold each ranking rule cut at. Any other DataComp
subset file (a DFN or HYPE uid list, say) is shown by membership only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pairsift.errors import InputError
from pairsift.io.location import Location, output_path
from pairsift.io.run_dir import RunDir
from pairsift.io.subsets import SubsetIndex, read_subset
from pairsift.select.rules import parse_rule
from pairsift.uids import from_keys

logger = logging.getLogger(__name__)

#: Membership of every row is kept as one bit per subset in a uint8.
MAX_SELECTIONS = 8


@dataclass(frozen=True)
class FunnelStep:
    rule: str
    kept: int
    base: int
    threshold: float | None = None


@dataclass(frozen=True)
class Threshold:
    """A cut a selection made on one score column (on the column's own scale)."""

    rule: str
    value: float


class Membership:
    """Which of many uid keys a sorted subset lists, shard after shard.

    The queries are sorted and searched on the uid's high 64 bits as plain integers (an order of
    magnitude faster than searching 16-byte strings), then checked on the low 64 bits. Runs of
    subset uids sharing their high bits (rare for random uids) are resolved by :class:`SubsetIndex`.
    """

    def __init__(self, subset: np.ndarray, source: str | None = None) -> None:
        self.hi = np.ascontiguousarray(subset["f0"])  # 16 bytes per subset uid in all
        self.lo = np.ascontiguousarray(subset["f1"])
        self._index: SubsetIndex | None = None
        self.source = source  #: the subset file's URL, when read from one

    @classmethod
    def read(cls, url: str) -> Membership:
        return cls(read_subset(output_path(url), mmap=True), url)

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickled (for the report's engine tasks) as its file's URL, read again where unpickled."""
        if self.source is None:
            return super().__reduce_ex__(protocol)
        return (Membership.read, (self.source,))

    def contains_keys(self, keys: np.ndarray) -> np.ndarray:
        """Membership of ``(n, 2)`` uint64 ``(hi, lo)`` keys."""
        order = np.argsort(keys[:, 0], kind="stable")
        hi, lo = keys[order, 0], keys[order, 1]
        left = np.searchsorted(self.hi, hi, "left")
        run = np.searchsorted(self.hi, hi, "right") - left
        found = np.zeros(len(keys), dtype=bool)
        single = run == 1
        found[single] = self.lo[left[single]] == lo[single]
        several = np.flatnonzero(run > 1)
        if len(several):
            if self._index is None:
                self._index = SubsetIndex(from_keys(np.stack([self.hi, self.lo], axis=1)))
            found[several] = self._index.contains_keys(np.stack([hi[several], lo[several]], axis=1))
        out = np.empty(len(keys), dtype=bool)
        out[order] = found
        return out


@dataclass
class Selection:
    """One subset file: its name, its uids (for membership) and, when recorded, its funnel."""

    name: str
    path: Location
    index: Membership
    rows: int
    funnel: list[FunnelStep] = field(default_factory=list)
    thresholds: dict[str, list[Threshold]] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)
    record_run: str | None = None

    @property
    def description(self) -> str:
        return " → ".join(self.rules) if self.rules else "subset file (no selection record)"


def load_selection(path: str | Path | Location) -> Selection:
    """Read a subset file (any fsspec URL) and, if present, its ``<file>.json`` record."""
    path = output_path(path)
    index = Membership.read(str(path))
    selection = Selection(path.stem, path, index, len(index.hi))
    record_path = path.parent / (path.name + ".json")
    if record_path.is_file():
        _apply_record(selection, _read_record(record_path), record_path)
    return selection


def load_selections(paths: list[str | Path | Location]) -> list[Selection]:
    if len(paths) > MAX_SELECTIONS:
        raise InputError(f"a report shows at most {MAX_SELECTIONS} subsets, got {len(paths)}")
    selections = [load_selection(p) for p in paths]
    _unique_names(selections)
    return selections


def discover_subsets(run_dir: str | Path) -> list[str | Path | Location]:
    """``RUN_DIR/subsets/*.npy`` (where ``pairsift demo`` puts its selections), sorted, at most 8."""
    folder = RunDir(run_dir).subsets
    found: list[str | Path | Location] = sorted(folder.glob("*.npy"), key=lambda p: p.name)
    if len(found) > MAX_SELECTIONS:
        logger.warning("%d subsets in %s; showing the first %d", len(found), folder, MAX_SELECTIONS)
    return found[:MAX_SELECTIONS]


def _read_record(path: Location) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the selection record: {exc}") from exc
    if not isinstance(record, dict):
        raise InputError(f"{path}: expected a JSON object (a `pairsift select` record)")
    return record


def _apply_record(selection: Selection, record: dict[str, Any], where: Location) -> None:
    try:
        steps = [
            FunnelStep(str(s["rule"]), int(s["kept"]), int(s["base"]), s.get("threshold"))
            for s in record["funnel"]
        ]
        rules = [(str(flag), str(text)) for flag, text in record.get("rules", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: not a `pairsift select` record (funnel/rules): {exc!r}") from exc
    selection.funnel = steps
    selection.rules = [step.rule for step in steps[1:]]
    selection.record_run = record.get("run_dir")
    # funnel[0] is the pool; funnel[i + 1] is the outcome of rules[i]
    for (flag, text), step in zip(rules, steps[1:], strict=False):
        column = getattr(parse_rule(flag, text), "column", None)
        if column is not None and step.threshold is not None:
            cut = Threshold(step.rule, float(step.threshold))
            selection.thresholds.setdefault(column, []).append(cut)


def _unique_names(selections: list[Selection]) -> None:
    """Two files with the same stem (``a/subset.npy``, ``b/subset.npy``) get their parent's name too."""
    stems = [s.name for s in selections]
    for s in selections:
        if stems.count(s.name) > 1:
            s.name = f"{s.path.parent.name}/{s.path.stem}"
