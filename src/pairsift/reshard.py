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

from pairsift.engines import EngineConfig, ShardFailure, make_engine
from pairsift.io.fs import InputError, atomic_write, display, resolve, sweep_temporaries
from pairsift.io.subsets import SUBSET_DTYPE, SubsetIndex, from_keys, read_subset, to_hex, write_subset
from pairsift.io.tars import Sample, TarSink, output_tars, read_samples
from pairsift.progress import track
from pairsift.run_dir import RunConfigError

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
    if "uid" not in meta:
        return None, NO_UID
    uid = meta["uid"]
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


@dataclass
class ReshardSummary:
    """Totals over the finished shards of an output directory (``summary.json``)."""

    output: str
    shards: int
    resharded: int
    skipped: int
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
    failures: list[ShardFailure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
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


def coverage(subset: np.ndarray, found_files: list[Path], chunk: int = 1 << 22) -> dict[str, Any]:
    """Distinct subset uids, how many were found in the tars, how many are missing (and the first few).

    Memory: one byte per subset row plus one chunk, whatever the subset size.
    """
    hit = np.zeros(len(subset), dtype=bool)
    for path in found_files:
        keys = np.load(path, allow_pickle=False).astype(SUBSET_DTYPE)
        where = np.searchsorted(subset, keys, "left")
        inside = where < len(subset)
        where, keys = where[inside], keys[inside]
        hit[where[np.asarray(subset[where]) == keys]] = True
    distinct = found = 0
    examples: list[str] = []
    for start in range(0, len(subset), chunk):
        rows = np.asarray(subset[max(start - 1, 0) : start + chunk])
        first = np.ones(len(rows), dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        if start:
            first = first[1:]
        positions = np.flatnonzero(first) + start
        distinct += len(positions)
        found += int(hit[positions].sum())
        if len(examples) < EXAMPLES:
            missing = positions[~hit[positions]][: EXAMPLES - len(examples)]
            examples += [str(u) for u in to_hex(np.asarray(subset[missing]))]
    return {
        "subset_rows": len(subset),
        "subset_uids": distinct,
        "found_uids": found,
        "missing_uids": distinct - found,
        "missing_examples": examples,
    }


def _log_shard(stats: ShardStats, progress: str) -> None:
    logger.info(
        "%s %s: %d samples read, %d kept, %d written into %d tar(s), %d without uid",
        progress,
        stats.shard,
        stats.input_samples,
        stats.kept_samples,
        stats.written_samples,
        len(stats.tars),
        stats.without_uid,
    )


def _check_distinct(inputs: dict[str, str], output: Path) -> None:
    """Refuse to write into a directory the inputs are read from (a rerun would read the outputs)."""
    target = output.resolve()
    for url in inputs.values():
        if "://" not in url and Path(url).parent.resolve() == target:
            raise InputError(f"output {output} is the directory of the input {url}; choose another one")


def reshard(
    input: str,
    subset: str,
    output: str,
    *,
    shard_size: int = 10000,
    workers: int = 1,
    engine: EngineConfig | None = None,
) -> ReshardSummary:
    """Write the samples of ``subset`` found in the tars of ``input`` into new tars under ``output``.

    ``engine`` says where the input tars are resharded (stage ``reshard``; default: the local engine
    with ``workers`` processes).

    Reruns resume: shards with a stats file are skipped and left untouched. Failed shards are
    reported in the summary (the others are written); rerun to retry them.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    start = time.perf_counter()
    inputs = list_inputs(input)
    out = Path(output)
    _check_distinct(inputs, out)
    _prepare(out, subset, shard_size, input)
    subset_rows = read_subset(subset, mmap=True)
    todo = [s for s in inputs if not stats_path(out, s).exists()]
    logger.info(
        "resharding %s: %d input shards, %d to do, %d already done",
        input,
        len(inputs),
        len(todo),
        len(inputs) - len(todo),
    )
    summary = ReshardSummary(str(out), len(inputs), resharded=len(todo), skipped=len(inputs) - len(todo))
    task = ReshardTask(inputs=inputs, subset=subset, output=output, shard_size=shard_size)
    outcomes = make_engine(engine or EngineConfig(), "reshard", workers=workers).map(task, todo)
    for i, outcome in enumerate(track(outcomes, "resharding", total=len(todo)), 1):
        if outcome.failure is not None:
            logger.error("[%d/%d] %s failed: %s", i, len(todo), outcome.shard, outcome.failure.error)
            summary.failures.append(outcome.failure)
        elif outcome.result is not None:
            _log_shard(outcome.result, f"[{i}/{len(todo)}]")
    summary.failures.sort(key=lambda f: f.shard)
    done = [s for s in inputs if stats_path(out, s).exists()]
    for shard in done:
        summary.add(ShardStats.read(stats_path(out, shard)))
    for key, value in coverage(subset_rows, [uids_path(out, s) for s in done]).items():
        setattr(summary, key, value)
    summary.seconds = time.perf_counter() - start
    record = {k: v for k, v in summary.to_dict().items() if k != "seconds"}
    atomic_write(out / SUMMARY, lambda fh: fh.write((json.dumps(record, indent=2) + "\n").encode()))
    return summary
