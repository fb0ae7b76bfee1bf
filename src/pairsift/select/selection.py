"""``select``: apply rules in order to a run's score tables and write a DataComp subset file."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pairsift.io.fs import atomic_write
from pairsift.io.subsets import sort_keys, write_subset
from pairsift.select.fusion import Fusion
from pairsift.select.rules import Rule, Step, parse_rule
from pairsift.select.state import SelectionState
from pairsift.select.tables import ScoreTables

logger = logging.getLogger(__name__)

#: Above this many bytes of one score column (4 per row), global top-k switches to the streaming
#: (two-pass histogram) path. Both paths give the same subset.
DEFAULT_MEMORY_BUDGET = 256 * 1024**2


@dataclass(frozen=True)
class SelectConfig:
    """A selection: ordered rules as ``(flag, text)``, e.g. ``("top", "neg_clip_loss=0.3")``."""

    rules: tuple[tuple[str, str], ...]
    output: str
    fuse: tuple[str, ...] = ()
    normalize: str = "minmax"
    datacomp_threshold: bool = False
    memory_budget: int = DEFAULT_MEMORY_BUDGET

    @classmethod
    def from_dict(cls, raw: dict[str, Any], output: str | None = None) -> SelectConfig:
        """The recipe form: ``rules: [{top: "neg_clip_loss=0.3"}, {restrict: dfn.npy}]`` and options."""
        rules = []
        for item in raw.get("rules") or []:
            if not isinstance(item, dict) or len(item) != 1:
                raise ValueError(f"each selection rule must be a single FLAG: VALUE mapping, got {item!r}")
            ((flag, text),) = item.items()
            rules.append((str(flag), str(text)))
        fuse = raw.get("fuse") or ()
        return cls(
            rules=tuple(rules),
            output=str(output or raw.get("output") or "subset.npy"),
            fuse=tuple([fuse] if isinstance(fuse, str) else fuse),
            normalize=str(raw.get("normalize", "minmax")),
            datacomp_threshold=bool(raw.get("datacomp_threshold", False)),
            memory_budget=int(raw.get("memory_budget", DEFAULT_MEMORY_BUDGET)),
        )

    def parsed_rules(self) -> list[Rule]:
        return [parse_rule(flag, text) for flag, text in self.rules]

    def fusions(self) -> list[Fusion]:
        return [Fusion.parse(spec, self.normalize) for spec in self.fuse]


@dataclass
class SelectionResult:
    output: str
    pool: int
    kept: int
    steps: list[Step] = field(default_factory=list)
    streaming: bool = False
    fusions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "pool": self.pool,
            "kept": self.kept,
            "streaming": self.streaming,
            "funnel": [s.to_dict() for s in self.steps],
            "fusions": self.fusions,
        }


def select(run_dir: str | Path, config: SelectConfig) -> SelectionResult:
    """Apply ``config.rules`` in order and write the subset file plus ``<output>.json`` (the record)."""
    rules = config.parsed_rules()  # parse everything before reading any table
    tables = ScoreTables(run_dir)
    streaming = tables.total * 4 > config.memory_budget
    state = SelectionState(
        tables, fusions=config.fusions(), streaming=streaming, datacomp_threshold=config.datacomp_threshold
    )
    result = SelectionResult(config.output, pool=tables.total, kept=tables.total, streaming=streaming)
    result.steps.append(Step("pool", tables.total, tables.total))
    for rule in rules:
        step = rule.apply(state)
        logger.info("%s: %d rows kept (base %d)", step.rule, step.kept, step.base)
        result.steps.append(step)
    result.fusions = [f.describe() for f in state.fusions.values()]
    subset = _kept_subset(state)
    result.kept = len(subset)
    write_subset(config.output, subset)
    del subset
    record = dict(result.to_dict(), run_dir=str(run_dir), rules=[list(r) for r in config.rules])
    record_path = Path(str(config.output) + ".json")
    atomic_write(record_path, lambda fh: fh.write((json.dumps(record, indent=2) + "\n").encode()))
    return result


def _kept_subset(state: SelectionState) -> np.ndarray:
    """The kept rows' uids as a sorted subset, filled shard by shard into preallocated columns.

    Rows whose uid is malformed cannot be named in a subset file: they are left out, with a warning.
    """
    hi = np.empty(state.kept, dtype=np.uint64)
    lo = np.empty(state.kept, dtype=np.uint64)
    start = skipped = 0
    for shard in state.shards:
        mask = state.masks[shard]
        if mask.any():
            keys, ok = state.uid_keys(shard)
            skipped += int((mask & ~ok).sum())
            mask = mask & ok
            count = int(mask.sum())
            hi[start : start + count] = keys[mask, 0]
            lo[start : start + count] = keys[mask, 1]
            start += count
    if skipped:
        logger.warning("%d kept rows have a malformed uid and are not written to the subset", skipped)
    return sort_keys(hi[:start], lo[:start])
