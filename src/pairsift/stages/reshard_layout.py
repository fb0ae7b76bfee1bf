"""How a reshard names what it writes: registry :data:`LAYOUTS` (``--layout``).

- ``pairsift`` (default): ``<stem>-000000.tar``, ``<stem>-000001.tar``, … per input tar, members keyed as in
  the input (``KEY``, ``KEY_dup1``, … for the copies of an upsampled sample);
- ``datacomp``: what DataComp's ``resharder.py`` writes: ``00000000.tar``, ``00000001.tar``, … numbered
  over the whole output (input tars in name order), each with ``00000000_stats.json`` (``successes``),
  samples keyed ``<uid>-0``, ``<uid>-1``, … per copy, ``sample_ids.npy`` (the subset file) and
  ``meta.json`` (``output_shard_count``, ``output_shard_format``, …), written once every shard is done.

Either way every side file sits beside the tars as a plain file whose name does not end in ``.tar``, and
no subfolder is made: DataComp's ``train.py`` looks for shards in every subfolder of ``--data_dir``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairsift.io.fs import atomic_write
from pairsift.io.location import Location, output_path
from pairsift.registry import Registry

DUP_SUFFIX = "_dup"
OUTPUT_SHARD_FORMAT = "{:08d}.tar"
OUTPUT_STATS_FORMAT = "{:08d}_stats.json"
META = "meta.json"
SAMPLE_IDS = "sample_ids.npy"


@dataclass(frozen=True)
class Part:
    """One tar a shard task wrote: its name and how many samples it holds."""

    name: str
    samples: int


class Layout:
    """Names of the copies of a sample, and what is done once every input tar is resharded."""

    def copy_key(self, key: str, uid: str, index: int) -> str:
        """Key of the ``index``-th copy of the sample ``key`` (uid ``uid``)."""
        return key if index == 0 else f"{key}{DUP_SUFFIX}{index}"

    def finish(self, output: Location, parts: list[Part], subset: str, record: dict[str, Any]) -> list[str]:
        """Called when every shard is done; the output's tar names, in order."""
        return [p.name for p in parts]


LAYOUTS: Registry[type[Layout]] = Registry("reshard layout")
LAYOUTS.register("pairsift")(Layout)


@LAYOUTS.register("datacomp")
class DataCompLayout(Layout):
    """DataComp resharder's names: global ``{:08d}.tar`` numbering, ``<uid>-<j>`` keys, its side files."""

    def copy_key(self, key: str, uid: str, index: int) -> str:
        return f"{uid}-{index}"

    def finish(self, output: Location, parts: list[Part], subset: str, record: dict[str, Any]) -> list[str]:
        """Rename the parts to ``00000000.tar``, … in order, write each ``_stats.json``, ``sample_ids.npy``
        and, last, ``meta.json``. Idempotent: a rerun after a crash midway completes the renames. Local
        outputs only (``reshard`` refuses this layout on object storage, which cannot rename)."""
        assert isinstance(output, Path), "the datacomp layout renames: local outputs only"
        names = []
        for index, part in enumerate(parts):
            final = output / OUTPUT_SHARD_FORMAT.format(index)
            if (output / part.name).exists():
                os.replace(output / part.name, final)
            _write_json(output / OUTPUT_STATS_FORMAT.format(index), {"successes": part.samples})
            names.append(final.name)
        atomic_write(output / SAMPLE_IDS, lambda fh: _copy(subset, fh))
        meta = {
            **record,
            "output_shard_count": len(parts),
            "output_shard_format": OUTPUT_SHARD_FORMAT,
            "output_shard_stats_format": OUTPUT_STATS_FORMAT,
        }
        _write_json(output / META, meta)
        return names


def _write_json(path: Path, record: dict[str, Any]) -> None:
    content = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
    atomic_write(path, lambda fh: fh.write(content))


def _copy(source: str, fh: Any) -> None:
    with output_path(source).open("rb") as src:
        shutil.copyfileobj(src, fh)
