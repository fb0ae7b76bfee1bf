"""``reshard``: copy the samples of a DataComp subset out of webdataset tars into new tars.

One input tar is one unit of work. For an input ``<stem>.tar`` the task writes, into ``OUTPUT``:

- ``<stem>-000000.tar``, ``<stem>-000001.tar``, … — the kept samples, at most ``shard_size`` per tar,
  members copied unchanged (names, header fields, bytes, order); a sample listed ``k`` times in the
  subset is written ``k`` times, the copies keyed ``KEY``, ``KEY_dup1``, … ``KEY_dup{k-1}``;
- ``stats/<stem>.uids.npy`` — the uids of the kept samples (a ``u8,u8`` subset file);
- ``stats/<stem>.json`` — the shard's counts, written last: it marks the shard as done.

A rerun skips the shards that have a stats file. ``summary.json`` totals the finished shards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pairsift.data import UID_COLUMN
from pairsift.engines import EngineConfig
from pairsift.errors import ConfigError, InputError, RunConfigError
from pairsift.io.fs import atomic_write, display, resolve, sweep_temporaries
from pairsift.io.subsets import SubsetIndex, coverage, read_subset, write_subset
from pairsift.io.tars import Sample, TarSink, output_tars, read_samples
from pairsift.stages.base import Summary, run_shards
from pairsift.uids import from_keys

logger = logging.getLogger(__name__)

MANIFEST = "reshard.json"
SUMMARY = "summary.json"
STATS = "stats"
EXAMPLES = 10  # keys / uids listed in stats and summary
DUP_SUFFIX = "_dup"

# Reasons a sample has no usable uid, in the order they are checked.
NO_JSON = "no_json"
MALFORMED_JSON = "malformed_json"
NO_UID = "no_uid"
MALFORMED_UID = "malformed_uid"
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


@dataclass
class ShardStats:
    """What one input tar held and what was written from it (``stats/<stem>.json``)."""

    shard: str
    input: str
    input_samples: int = 0
    kept_samples: int = 0
    written_samples: int = 0
    duplicates_written: int = 0
    without_uid: int = 0
    without_uid_reasons: dict[str, int] = field(default_factory=dict)
    without_uid_examples: list[dict[str, str]] = field(default_factory=list)
    tars: list[str] = field(default_factory=list)

    def skip(self, key: str, reason: str) -> None:
        self.without_uid += 1
        self.without_uid_reasons[reason] = self.without_uid_reasons.get(reason, 0) + 1
        if len(self.without_uid_examples) < EXAMPLES:
            self.without_uid_examples.append({"key": key, "reason": reason})

    def to_json(self) -> bytes:
        return (json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def read(cls, path: Path) -> ShardStats:
        return cls(**json.loads(path.read_text()))


def sample_uid(sample: Sample) -> tuple[tuple[int, int] | None, str]:
    """``((hi, lo), "")`` from the sample's json ``uid``, or ``(None, reason)``."""
    raw = sample.member("json")
    if raw is None:
        return None, NO_JSON
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None, MALFORMED_JSON
    if not isinstance(meta, dict):
        return None, MALFORMED_JSON
    if UID_COLUMN not in meta:
        return None, NO_UID
    uid = meta[UID_COLUMN]
    if not isinstance(uid, str) or not _HEX32.fullmatch(uid):
        return None, MALFORMED_UID
    hi, lo = divmod(int(uid, 16), 2**64)
    return (hi, lo), ""


def copy_key(key: str, index: int) -> str:
    """Key of the ``index``-th copy of an upsampled sample: ``KEY``, ``KEY_dup1``, ``KEY_dup2``, …"""
    return key if index == 0 else f"{key}{DUP_SUFFIX}{index}"


class ReshardTask:
    """Reshard one input tar (by stem). Picklable; the subset is memory-mapped in :meth:`setup`."""

    def __init__(self, *, inputs: dict[str, str], subset: str, output: str, shard_size: int) -> None:
        self.inputs = inputs
        self.subset = subset
        self.output = output
        self.shard_size = shard_size

    def setup(self) -> None:
        self.index_ = SubsetIndex(read_subset(self.subset, mmap=True))

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_")}

    def __call__(self, shard: str) -> ShardStats:
        out = Path(self.output)
        for stale in output_tars(out, shard):  # from an earlier attempt killed before its stats file
            stale.unlink()
        stats = ShardStats(shard, self.inputs[shard])
        sink = TarSink(out, shard, self.shard_size)
        found: list[tuple[int, int]] = []
        try:
            with contextlib.closing(read_samples(stats.input)) as samples:
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
        uid, problem = sample_uid(sample)
        if uid is None:
            stats.skip(sample.key, problem)
            return
        copies = int(self.index_.count_keys(np.array([uid], dtype=np.uint64))[0])
        if not copies:
            return
        stats.kept_samples += 1
        stats.written_samples += copies
        stats.duplicates_written += copies - 1
        found.append(uid)
        for index in range(copies):
            sink.add(sample.renamed(copy_key(sample.key, index)))


def stats_path(output: Path, shard: str) -> Path:
    return output / STATS / f"{shard}.json"


def uids_path(output: Path, shard: str) -> Path:
    return output / STATS / f"{shard}.uids.npy"


#: the ``summary.json`` keys after ``output``, ``shards`` and ``resharded``, in their order
SUMMARY_FIELDS = (
    "skipped",
    "input_samples",
    "kept_samples",
    "written_samples",
    "duplicates_written",
    "tars",
    "without_uid",
    "without_uid_reasons",
    "without_uid_examples",
    "subset_rows",
    "subset_uids",
    "found_uids",
    "missing_uids",
    "missing_examples",
)


@dataclass
class ReshardSummary(Summary):
    """A reshard's :class:`Summary` plus the totals over every finished shard of the output directory
    (``summary.json``): samples read, kept, written, tars, samples without a uid, and subset coverage."""

    input_samples: int = 0
    kept_samples: int = 0
    written_samples: int = 0
    duplicates_written: int = 0
    tars: int = 0
    without_uid: int = 0
    without_uid_reasons: dict[str, int] = field(default_factory=dict)
    without_uid_examples: list[dict[str, str]] = field(default_factory=list)
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
        out["seconds"] = round(self.seconds, 3)
        return out

    def add(self, stats: ShardStats) -> None:
        for name in ("input_samples", "kept_samples", "written_samples", "duplicates_written", "without_uid"):
            setattr(self, name, getattr(self, name) + getattr(stats, name))
        self.tars += len(stats.tars)
        self.without_uid_reasons = dict(
            Counter(self.without_uid_reasons) + Counter(stats.without_uid_reasons)
        )
        room = EXAMPLES - len(self.without_uid_examples)
        self.without_uid_examples += [{"shard": stats.shard, **e} for e in stats.without_uid_examples[:room]]


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
    """``/data/00000123.tar`` -> ``00000123`` (also ``.tar.gz`` etc.)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"\.tar(\.[A-Za-z0-9]+)?$", "", name)


def _prepare(output: Path, subset: str, shard_size: int, input: str) -> None:
    """Create the output directory, sweep temporaries and check ``reshard.json`` against earlier runs."""
    now = {"subset_sha256": _sha256(Path(subset)), "shard_size": shard_size}
    (output / STATS).mkdir(parents=True, exist_ok=True)
    for folder in (output, output / STATS):
        sweep_temporaries(folder)
    manifest = output / MANIFEST
    if manifest.exists():
        earlier = json.loads(manifest.read_text())
        checked = {k: earlier.get(k) for k in now}
        if checked != now:
            raise RunConfigError(
                f"{output} holds a reshard made with another subset or shard size "
                f"(was {checked}, now {now}); use a new output directory, or delete this one to start over"
            )
        return
    record = {**now, "subset": subset, "input": input}
    atomic_write(
        manifest, lambda fh: fh.write((json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
    )


def _sha256(path: Path) -> str:
    if not path.is_file():
        raise InputError(f"subset file {path}: no such file")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(stats: ShardStats) -> str:
    return (
        f"{stats.shard}: {stats.input_samples} samples read, {stats.kept_samples} kept, "
        f"{stats.written_samples} written into {len(stats.tars)} tar(s), {stats.without_uid} without uid"
    )


def _check_distinct(inputs: dict[str, str], output: Path) -> None:
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

    def __post_init__(self) -> None:
        if not isinstance(self.shard_size, int) or isinstance(self.shard_size, bool) or self.shard_size < 1:
            raise ConfigError(f"shard_size must be an integer >= 1, got {self.shard_size!r}")


def reshard(config: ReshardConfig) -> ReshardSummary:
    """Write the samples of ``config.subset`` found in the tars of ``config.input`` into new tars.

    Reruns resume: shards with a stats file are skipped and left untouched. Failed shards are
    reported in the summary (the others are written); rerun to retry them.
    """
    start = time.perf_counter()
    inputs = list_inputs(config.input)
    out = Path(config.output)
    _check_distinct(inputs, out)
    _prepare(out, config.subset, config.shard_size, config.input)
    subset_rows = read_subset(config.subset, mmap=True)
    task = ReshardTask(
        inputs=inputs, subset=config.subset, output=config.output, shard_size=config.shard_size
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
    done = [s for s in inputs if stats_path(out, s).exists()]
    for shard in done:
        summary.add(ShardStats.read(stats_path(out, shard)))
    for key, value in coverage(subset_rows, [uids_path(out, s) for s in done]).items():
        setattr(summary, key, value)
    summary.seconds = time.perf_counter() - start
    record = {k: v for k, v in summary.to_dict().items() if k != "seconds"}
    atomic_write(out / SUMMARY, lambda fh: fh.write((json.dumps(record, indent=2) + "\n").encode()))
    return summary
