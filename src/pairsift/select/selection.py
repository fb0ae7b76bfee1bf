"""``select``: apply rules in order to a run's score tables and write a DataComp subset file."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pairsift.errors import InputError
from pairsift.select.fusion import Fusion
from pairsift.select.mapped import InProcess, MappedSelection, Mapper
from pairsift.select.record import sweep, write_selection
from pairsift.select.rules import Rule, parse_rule
from pairsift.select.state import SelectionState
from pairsift.select.step import Step
from pairsift.select.tables import ScoreTables
from pairsift.uids import SUBSET_DTYPE, sort_keys

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
    #: select even when some shards of the pool have no score table (the record says ``partial``)
    allow_partial: bool = False

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
            allow_partial=bool(raw.get("allow_partial", False)),
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
    #: ``partial``, ``pool_shards``, ``missing_shards``, ``missing_examples`` (see :class:`Completeness`)
    completeness: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None  #: of the subset file written (also in its record)
    #: kept rows left out because their uid was kept already (each uid is written once)
    repeated_uids: int = 0

    @property
    def partial(self) -> bool:
        return bool(self.completeness.get("partial", False))

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "pool": self.pool,
            "kept": self.kept,
            "streaming": self.streaming,
            "repeated_uids": self.repeated_uids,
            **self.completeness,
            "funnel": [s.to_dict() for s in self.steps],
            "fusions": self.fusions,
        }


def select(run_dir: str | Path, config: SelectConfig, mapper: Mapper | None = None) -> SelectionResult:
    """Apply ``config.rules`` in order and write the subset file plus ``<output>.json`` (the record).

    ``mapper`` runs the passes over the score tables (an engine from :func:`pairsift.engines.make_engine`
    for stage ``select``: local processes or Ray); default: one after the other in this process. It never
    changes the subset. Fused columns (``config.fuse``) need pool-wide statistics: a first pass returns
    each table's partial statistics, which this process merges in shard order, and the fitted fusions
    go with every later pass (``rank``'s hold the pool's sorted values: 4 bytes per sample, here and in
    each task).
    """
    rules = config.parsed_rules()  # parse everything before reading any table
    fusions = config.fusions()
    sweep(config.output)
    tables = ScoreTables(run_dir)
    completeness = tables.completeness()
    if completeness.partial:
        if not config.allow_partial:
            raise InputError(
                f"{completeness.describe()}; or pass --allow-partial (allow_partial: true) to select from "
                f"the {completeness.scored} shards that have one"
            )
        logger.warning(
            "%s; selecting from the %d shards scored", completeness.describe(), completeness.scored
        )
    streaming = tables.total * 4 > config.memory_budget
    result = SelectionResult(
        config.output,
        pool=tables.total,
        kept=tables.total,
        streaming=streaming,
        completeness=completeness.to_dict(),
    )
    result.steps.append(Step("pool", tables.total, tables.total))
    subset, result.repeated_uids = _on_engine(tables, config, rules, fusions, result, mapper or InProcess())
    result.kept = len(subset)
    record = dict(result.to_dict(), run_dir=str(run_dir), rules=[list(r) for r in config.rules])
    result.sha256 = write_selection(config.output, subset, record)
    return result


def _on_engine(
    tables: ScoreTables,
    config: SelectConfig,
    rules: list[Rule],
    fusions: list[Fusion],
    result: SelectionResult,
    mapper: Mapper,
) -> tuple[np.ndarray, int]:
    """Every pass over the tables as engine tasks (one table per task); the driver merges and decides."""
    selection = MappedSelection(tables, mapper, datacomp_threshold=config.datacomp_threshold)
    with mapper.session():  # the passes share the engine's workers
        if fusions:
            selection.desc = "selecting: fusion statistics"
            selection.fit(fusions)
            result.fusions = [f.describe() for f in fusions]
        for rule in rules:
            selection.desc = f"selecting: {rule.describe()}"
            result.steps.append(rule.mapped(selection))
        selection.desc = "selecting: writing the subset"
        keys = selection.kept_keys()
        selection.finish()
    for step in result.steps[1:]:
        logger.info("%s: %d rows kept (base %d)", step.rule, step.kept, step.base)
    logger.info("selection: %d passes over %d score tables", selection.passes, len(tables.shards))
    kept = selection.kept
    return _subset_of(lambda: iter(keys), kept)


def _in_process(
    tables: ScoreTables, config: SelectConfig, rules: list[Rule], result: SelectionResult
) -> tuple[np.ndarray, int]:
    """The single-process path, which :func:`select` no longer takes: every pass here, with the pool's
    masks (1 byte per row) and its own top-k (:func:`~pairsift.select.exact_top_k.top_k`). The tests
    check the engine passes against it, subset bytes, funnel and fusion statistics."""
    state = SelectionState(
        tables,
        fusions=config.fusions(),
        streaming=result.streaming,
        datacomp_threshold=config.datacomp_threshold,
    )
    for rule in rules:
        state.shards.desc = f"selecting: {rule.describe()}"
        step = rule.apply(state)
        logger.info("%s: %d rows kept (base %d)", step.rule, step.kept, step.base)
        result.steps.append(step)
    result.fusions = [f.describe() for f in state.fusions.values()]
    state.shards.desc = "selecting: writing the subset"
    return _kept_subset(state)


#: Kept uids are bucketed by the top bits of their high half, then each bucket is sorted on its own:
#: the subset is built in one array of 16 bytes per uid, with only a bucket's worth of temporaries.
#: (DataComp uids are uniformly random, so the buckets are even.)
BUCKET_BITS = 8


def _kept_subset(state: SelectionState) -> tuple[np.ndarray, int]:
    """:func:`_subset_of` the kept rows of ``state``."""
    return _subset_of(lambda: _kept_keys(state), state.kept)


def _subset_of(kept_keys: Callable[[], Iterator[np.ndarray]], kept: int) -> tuple[np.ndarray, int]:
    """The kept rows' distinct uids as a sorted subset (a counting pass, a filling pass, then per-bucket
    sorts), and how many kept rows repeated a uid already in it.

    Only the kept rows' uids are parsed. Rows whose uid is malformed cannot be named in a subset
    file: they are left out, with a warning. A uid kept twice (the pool lists it twice; ``score`` marks
    all but the first ``duplicate_uid``, but a run scored before that, or a ``--restrict``-only selection
    that keeps invalid rows, may still keep both) is written once: a selection never upsamples.
    """
    shift = np.uint64(64 - BUCKET_BITS)
    counts = np.zeros(1 << BUCKET_BITS, dtype=np.int64)
    for keys in kept_keys():
        counts += np.bincount((keys[:, 0] >> shift).astype(np.int64), minlength=len(counts))
    starts = np.concatenate([[0], np.cumsum(counts)])
    out = np.empty(int(starts[-1]), dtype=SUBSET_DTYPE)
    fill = starts[:-1].copy()
    for keys in kept_keys():
        bucket = (keys[:, 0] >> shift).astype(np.int64)
        order = np.argsort(bucket, kind="stable")
        bucket, keys = bucket[order], keys[order]
        first = np.searchsorted(bucket, bucket, "left")  # index of each row's bucket run
        position = fill[bucket] + (np.arange(len(bucket)) - first)
        out["f0"][position], out["f1"][position] = keys[:, 0], keys[:, 1]
        np.add.at(fill, bucket, 1)
    written = 0  # each bucket sorted, then its repeats dropped, compacted towards the front
    for b in range(len(counts)):
        segment = out[starts[b] : starts[b + 1]]
        if len(segment) > 1:
            segment = sort_keys(segment["f0"].copy(), segment["f1"].copy())
            first = np.ones(len(segment), dtype=bool)
            first[1:] = (segment["f0"][1:] != segment["f0"][:-1]) | (segment["f1"][1:] != segment["f1"][:-1])
            segment = segment[first]
        out[written : written + len(segment)] = segment
        written += len(segment)
    repeats = int(starts[-1]) - written
    if repeats:
        logger.warning(
            "%d kept rows repeat a uid kept already: each uid is written once (a subset file lists a uid "
            "twice only to train on it twice; `pairsift uids` does that on purpose)",
            repeats,
        )
    skipped = kept - int(starts[-1])
    if skipped:
        logger.warning("%d kept rows have a malformed uid and are not written to the subset", skipped)
    return out[:written], repeats


def _kept_keys(state: SelectionState) -> Iterator[np.ndarray]:
    """Well-formed uid keys of the kept rows, shard by shard."""
    for shard in state.shards:
        mask = state.masks[shard]
        if mask.any():
            keys, ok = state.tables.uid_keys(shard, rows=mask)
            yield keys[ok]
