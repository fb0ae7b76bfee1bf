"""``reshard``: copy the samples of a DataComp subset out of webdataset tars into new tars.

One input tar is one unit of work. For an input ``<stem>.tar`` the task writes, into ``OUTPUT``:

- ``<stem>-000000.tar``, ``<stem>-000001.tar``, … — the kept samples, at most ``shard_size`` per tar,
  members copied unchanged (header fields, bytes, order); a sample listed ``k`` times in the subset is
  written ``k`` times, the copies keyed ``KEY``, ``KEY_dup1``, … ``KEY_dup{k-1}``;
- ``<stem>.uids.npy`` — the uids of the kept samples (a ``u8,u8`` subset file);
- ``<stem>.stats.json`` — the shard's counts, written last: it marks the shard as done.

Uids follow the one rule of :mod:`pairsift.io.sample_uids`, as in ``embed``: a sample whose ``KEY.json``
is missing or broken gets the uid ``embed`` derived for it, so every sample ``select`` can pick can be
written. A sample with an unsafe or over-limit member (:mod:`pairsift.io.member_names`,
:class:`~pairsift.io.limits.ReadLimits`) is never written; it is counted in ``refused``.

A rerun skips the shards that have a stats file. ``summary.json`` totals the finished shards. With
``layout="datacomp"`` the tars are renamed as DataComp's resharder names them once every shard is done
(:mod:`pairsift.stages.reshard_layout`). Side files are plain files beside the tars, never a subfolder,
so that DataComp's ``train.py --data_dir`` and open_clip's trainer read the folder as it is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pairsift.engines import EngineConfig
from pairsift.errors import ConfigError, InputError, RunConfigError
from pairsift.io.fs import atomic_write, display, resolve, sweep_temporaries
from pairsift.io.limits import ReadLimits, coerce_limits
from pairsift.io.location import Location, RemotePath, check_reachable, output_path
from pairsift.io.sample_uids import shard_stem, sidecar_uid
from pairsift.io.subsets import SubsetIndex, coverage, file_sha256, read_subset, write_subset
from pairsift.io.tars import Sample, TarSink, output_tars, read_samples
from pairsift.stages.base import Summary, run_shards
from pairsift.stages.reshard_layout import LAYOUTS, Part
from pairsift.uids import from_keys

logger = logging.getLogger(__name__)

MANIFEST = "reshard.json"
SUMMARY = "summary.json"
OLD_STATS = "stats"  #: the side-file subfolder of pairsift 0.1, which DataComp's train.py trips over
EXAMPLES = 10  # keys / uids listed in stats and summary


@dataclass
class ShardStats:
    """What one input tar held and what was written from it (``stats/<stem>.json``)."""

    shard: str
    input: str
    input_samples: int = 0
    kept_samples: int = 0
    written_samples: int = 0
    duplicates_written: int = 0
    derived_uid: int = 0
    derived_uid_reasons: dict[str, int] = field(default_factory=dict)
    derived_uid_examples: list[dict[str, str]] = field(default_factory=list)
    refused: int = 0
    refused_reasons: dict[str, int] = field(default_factory=dict)
    refused_examples: list[dict[str, str]] = field(default_factory=list)
    tars: list[str] = field(default_factory=list)

    def derive(self, key: str, reason: str) -> None:
        self.derived_uid += 1
        self.derived_uid_reasons[reason] = self.derived_uid_reasons.get(reason, 0) + 1
        if len(self.derived_uid_examples) < EXAMPLES:
            self.derived_uid_examples.append({"key": key, "reason": reason})

    def refuse(self, sample: Sample) -> None:
        first = sample.refused[0]
        self.refused += 1
        self.refused_reasons[first.status] = self.refused_reasons.get(first.status, 0) + 1
        if len(self.refused_examples) < EXAMPLES:
            self.refused_examples.append(
                {"member": first.name, "reason": first.status, "detail": first.detail}
            )

    def to_json(self) -> bytes:
        return (json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def read(cls, path: Location) -> ShardStats:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in json.loads(path.read_text()).items() if k in known})


class ReshardTask:
    """Reshard one input tar (by stem). Picklable; the subset is memory-mapped in :meth:`setup`."""

    def __init__(
        self,
        *,
        inputs: dict[str, str],
        subset: str,
        output: str,
        shard_size: int,
        layout: str = "pairsift",
        limits: ReadLimits | None = None,
    ) -> None:
        self.inputs = inputs
        self.subset = subset
        self.output = output
        self.shard_size = shard_size
        self.layout = layout
        self.limits = limits or ReadLimits()

    def setup(self) -> None:
        self.index_ = SubsetIndex(read_subset(self.subset, mmap=True))
        self.layout_ = LAYOUTS.get(self.layout)()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_")}

    def __call__(self, shard: str) -> ShardStats:
        out = output_path(self.output)
        for stale in output_tars(out, shard):  # from an earlier attempt killed before its stats file
            stale.unlink()
        stats = ShardStats(shard, self.inputs[shard])
        sink = TarSink(out, shard, self.shard_size)
        found: list[tuple[int, int]] = []
        try:
            with contextlib.closing(read_samples(stats.input, self.limits)) as samples:
                for sample in samples:
                    self._take(sample, stats, sink, found)
        except BaseException:
            sink.abort()
            raise
        stats.tars = sink.commit()
        write_subset(uids_path(out, shard), from_keys(np.array(found, dtype=np.uint64).reshape(-1, 2)))
        atomic_write(stats_path(out, shard), lambda fh: fh.write(stats.to_json()))
        return stats

    def _take(self, sample: Sample, stats: ShardStats, sink: TarSink, found: list[tuple[int, int]]) -> None:
        stats.input_samples += 1
        if sample.refused:
            stats.refuse(sample)
            return
        found_uid, _ = sidecar_uid(stats.shard, sample.key, sample.member("json"))
        if found_uid.reason:
            stats.derive(sample.key, found_uid.reason)
        uid = found_uid.uid
        key = divmod(int(uid, 16), 2**64)
        copies = int(self.index_.count_keys(np.array([key], dtype=np.uint64))[0])
        if not copies:
            return
        stats.kept_samples += 1
        stats.written_samples += copies
        stats.duplicates_written += copies - 1
        found.append(key)
        for index in range(copies):
            sink.add(sample.renamed(self.layout_.copy_key(sample.key, uid, index)))


def stats_path(output: Location, shard: str) -> Location:
    return output / f"{shard}.stats.json"


def uids_path(output: Location, shard: str) -> Location:
    return output / f"{shard}.uids.npy"


def parts(stats: ShardStats, shard_size: int) -> list[Part]:
    """The tars of one input shard with their sample counts (all full but the last)."""
    counts = [shard_size] * len(stats.tars)
    if counts:
        counts[-1] = stats.written_samples - shard_size * (len(counts) - 1)
    return [Part(name, count) for name, count in zip(stats.tars, counts, strict=True)]


#: the ``summary.json`` keys after ``output``, ``shards`` and ``resharded``, in their order
SUMMARY_FIELDS = (
    "skipped",
    "input_samples",
    "kept_samples",
    "written_samples",
    "duplicates_written",
    "tars",
    "derived_uid",
    "derived_uid_reasons",
    "derived_uid_examples",
    "refused",
    "refused_reasons",
    "refused_examples",
    "subset_rows",
    "subset_uids",
    "found_uids",
    "missing_uids",
    "missing_examples",
)


@dataclass
class ReshardSummary(Summary):
    """A reshard's :class:`Summary` plus the totals over every finished shard of the output directory
    (``summary.json``): samples read, kept, written, tars, derived uids, refused samples, subset coverage."""

    input_samples: int = 0
    kept_samples: int = 0
    written_samples: int = 0
    duplicates_written: int = 0
    tars: int = 0
    derived_uid: int = 0
    derived_uid_reasons: dict[str, int] = field(default_factory=dict)
    derived_uid_examples: list[dict[str, str]] = field(default_factory=list)
    refused: int = 0
    refused_reasons: dict[str, int] = field(default_factory=dict)
    refused_examples: list[dict[str, str]] = field(default_factory=list)
    subset_rows: int = 0
    subset_uids: int = 0
    found_uids: int = 0
    missing_uids: int = 0
    missing_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` record (``resharded``: the shards done by this run)."""
        out: dict[str, Any] = {"output": self.output, "shards": self.shards, "resharded": self.processed}
        out.update((k, getattr(self, k)) for k in SUMMARY_FIELDS)
        out["failures"] = [dataclasses.asdict(f) for f in self.failures]
        out["retried"] = self.retried
        out["seconds"] = round(self.seconds, 3)
        return out

    def add(self, stats: ShardStats) -> None:
        counts = (
            "input_samples",
            "kept_samples",
            "written_samples",
            "duplicates_written",
            "derived_uid",
            "refused",
        )
        for name in counts:
            setattr(self, name, getattr(self, name) + getattr(stats, name))
        self.tars += len(stats.tars)
        for name in ("derived_uid", "refused"):
            reasons = f"{name}_reasons"
            setattr(self, reasons, dict(Counter(getattr(self, reasons)) + Counter(getattr(stats, reasons))))
            examples: list[dict[str, str]] = getattr(self, f"{name}_examples")
            room = EXAMPLES - len(examples)
            examples += [{"shard": stats.shard, **e} for e in getattr(stats, f"{name}_examples")[:room]]


def list_inputs(input: str) -> dict[str, str]:
    """Input shards by stem: a directory (its ``*.tar``, sorted), a glob, or one tar; any fsspec URL."""
    fs, path = resolve(input)
    if any(c in path for c in "*?["):
        files = sorted(p for p in fs.glob(path) if fs.isfile(p))
    elif fs.isdir(path):
        files = sorted(p for p in fs.find(path, maxdepth=1) if p.endswith(".tar"))
    elif fs.isfile(path):
        files = [path]
    else:
        raise InputError(f"input {input}: no such file or directory")
    if not files:
        raise InputError(f"input {input}: no .tar files found")
    inputs: dict[str, str] = {}
    for file in files:
        stem = _stem(file)
        if stem in inputs:
            raise InputError(
                f"input {input}: {inputs[stem]} and {display(fs, file)} have the same name {stem!r}; "
                "output tars are named after the input, so input names must be distinct"
            )
        inputs[stem] = display(fs, file)
    return inputs


def _stem(path: str) -> str:
    """``/data/00000123.tar`` -> ``00000123`` (also ``.tar.gz`` etc.): the shard name ``embed`` uses too."""
    return shard_stem(path)


def _prepare(
    output: Location, subset: str, shard_size: int, input: str, layout: str, limits: ReadLimits
) -> None:
    """Create the output directory, sweep temporaries and check ``reshard.json`` against earlier runs."""
    if (output / OLD_STATS).is_dir():
        raise RunConfigError(
            f"{output} holds a reshard of pairsift 0.1 (side files in {OLD_STATS}/, a subfolder DataComp's "
            "train.py cannot read); reshard into a new directory, or delete this one to start over"
        )
    now = {"subset_sha256": _sha256(subset), "shard_size": shard_size, "layout": layout}
    check_reachable(output)
    output.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(output)
    manifest = output / MANIFEST
    if manifest.exists():
        earlier = json.loads(manifest.read_text())
        checked = {k: earlier.get(k) for k in now}
        if checked != now:
            raise RunConfigError(
                f"{output} holds a reshard made with another subset, shard size or layout "
                f"(was {checked}, now {now}); use a new output directory, or delete this one to start over"
            )
        return
    record = {**now, "subset": subset, "input": input, "limits": limits.to_dict()}
    atomic_write(
        manifest, lambda fh: fh.write((json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
    )


def _sha256(subset: str) -> str:
    path = output_path(subset)
    if not path.is_file():
        raise InputError(f"subset file {path}: no such file")
    return file_sha256(path)


def _describe(stats: ShardStats) -> str:
    return (
        f"{stats.shard}: {stats.input_samples} samples read, {stats.kept_samples} kept, "
        f"{stats.written_samples} written into {len(stats.tars)} tar(s), {stats.derived_uid} derived uid(s), "
        f"{stats.refused} refused"
    )


def _check_distinct(inputs: dict[str, str], output: Location) -> None:
    """Refuse to write into a directory the inputs are read from (a rerun would read the outputs)."""
    target = output.resolve()
    for url in inputs.values():
        if "://" not in url and Path(url).parent.resolve() == target:
            raise InputError(f"output {output} is the directory of the input {url}; choose another one")


@dataclass(frozen=True)
class ReshardConfig:
    """What ``pairsift reshard`` does (a recipe's ``reshard`` section): the input tars, the subset file,
    the output directory, samples per output tar, and where input tars are resharded (stage ``reshard``)."""

    input: str
    subset: str
    output: str
    shard_size: int = 10000
    engine: EngineConfig = field(default_factory=EngineConfig)
    layout: str = "pairsift"  #: output naming (:data:`~pairsift.stages.reshard_layout.LAYOUTS`)
    limits: ReadLimits = field(default_factory=ReadLimits)  #: byte caps of every read (in reshard.json)

    def __post_init__(self) -> None:
        coerce_limits(self)
        if not isinstance(self.shard_size, int) or isinstance(self.shard_size, bool) or self.shard_size < 1:
            raise ConfigError(f"shard_size must be an integer >= 1, got {self.shard_size!r}")
        if self.layout not in LAYOUTS:
            names = ", ".join(LAYOUTS.names())
            raise ConfigError(f"unknown reshard layout {self.layout!r}; available: {names}")


def reshard(config: ReshardConfig) -> ReshardSummary:
    """Write the samples of ``config.subset`` found in the tars of ``config.input`` into new tars.

    Reruns resume: shards with a stats file are skipped and left untouched. Failed shards are
    reported in the summary (the others are written); rerun to retry them.
    """
    start = time.perf_counter()
    inputs = list_inputs(config.input)
    out = output_path(config.output)
    if isinstance(out, RemotePath) and config.layout != "pairsift":
        raise ConfigError(
            f"{out}: the {config.layout!r} layout renames every tar once all are written, and object "
            "storage has no atomic rename; reshard to a local path, or use layout 'pairsift'"
        )
    _check_distinct(inputs, out)
    _prepare(out, config.subset, config.shard_size, config.input, config.layout, config.limits)
    subset_rows = read_subset(config.subset, mmap=True)
    task = ReshardTask(
        inputs=inputs,
        subset=config.subset,
        output=config.output,
        shard_size=config.shard_size,
        layout=config.layout,
        limits=config.limits,
    )
    mapped = run_shards(
        task,
        list(inputs),
        lambda shard: stats_path(out, shard).exists(),
        config.engine,
        stage="reshard",
        doing="resharding",
        source=config.input,
        output=str(out),
        describe=_describe,
    )
    summary = ReshardSummary(str(out), mapped.shards, mapped.processed, mapped.skipped)
    summary.failures = mapped.failures
    summary.retried = mapped.retried
    done = [s for s in inputs if stats_path(out, s).exists()]
    every = [ShardStats.read(stats_path(out, shard)) for shard in done]
    for stats in every:
        summary.add(stats)
    for key, value in coverage(subset_rows, [uids_path(out, s) for s in done]).items():
        setattr(summary, key, value)
    if len(done) == len(inputs):
        written = [p for stats in every for p in parts(stats, config.shard_size)]
        meta = {"subset": config.subset, "input": config.input, "shard_size": config.shard_size}
        meta |= {"output_count": summary.written_samples, "processed_count": summary.input_samples}
        LAYOUTS.get(config.layout)().finish(out, written, config.subset, meta)
    summary.seconds = time.perf_counter() - start
    record = {k: v for k, v in summary.to_dict().items() if k != "seconds"}
    atomic_write(out / SUMMARY, lambda fh: fh.write((json.dumps(record, indent=2) + "\n").encode()))
    return summary
