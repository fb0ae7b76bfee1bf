"""Byte-reproducible webdataset tars: fixed member headers, one shard built in memory, written atomically."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from pairsift.io.fs import atomic_write
from pairsift.io.member_names import check_output_name
from pairsift.io.tars import OUTPUT_FORMAT

#: One sample: its key and ``(extension, bytes)`` members, written as ``KEY.<extension>``.
SampleFiles = tuple[str, list[tuple[str, bytes]]]


def tar_bytes(samples: Iterable[SampleFiles]) -> bytes:
    """A tar of the samples, every header field fixed (mtime 0, owner 0/root-less, mode 0644)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=OUTPUT_FORMAT) as tar:
        for key, members in samples:
            for extension, data in members:
                check_output_name(f"{key}.{extension}")
                info = tarfile.TarInfo(f"{key}.{extension}")
                info.size = len(data)
                info.mtime = 0
                info.mode = 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


#: shard names as img2dataset writes them and DataComp's resharder reads them (``--shard-format``)
SHARD_FORMAT = "{:08d}.tar"
STATS_FORMAT = "{:08d}_stats.json"
SIZES = "sizes.json"  #: DataComp's shard table: shard name -> samples


def write_shards(directory: Path, samples: Iterable[SampleFiles], shard_size: int) -> list[str]:
    """Write img2dataset-style shards of at most ``shard_size`` samples: ``00000000.tar``, … each with its
    ``00000000_stats.json`` (``count``, ``successes``, …), then ``sizes.json``; returns the tar names."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    sizes: dict[str, int] = {}
    batch: list[SampleFiles] = []

    def flush() -> None:
        index = len(sizes)
        name = SHARD_FORMAT.format(index)
        data = tar_bytes(batch)
        atomic_write(directory / name, lambda fh: fh.write(data))
        stats = _json(
            {
                "count": len(batch),
                "successes": len(batch),
                "failed_to_download": 0,
                "failed_to_resize": 0,
                "shard_id": index,
                "status_dict": {"success": len(batch)},
            }
        )
        atomic_write(directory / STATS_FORMAT.format(index), lambda fh: fh.write(stats))
        sizes[name] = len(batch)
        batch.clear()

    for sample in samples:
        batch.append(sample)
        if len(batch) == shard_size:
            flush()
    if batch:
        flush()
    table = _json(sizes)
    atomic_write(directory / SIZES, lambda fh: fh.write(table))
    return list(sizes)


def _json(record: Mapping[str, object]) -> bytes:
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
