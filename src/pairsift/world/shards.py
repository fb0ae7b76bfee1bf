"""Byte-reproducible webdataset tars: fixed member headers, one shard built in memory, written atomically."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from pathlib import Path

from pairsift.io.fs import atomic_write
from pairsift.io.tars import OUTPUT_FORMAT

#: One sample: its key and ``(extension, bytes)`` members, written as ``KEY.<extension>``.
SampleFiles = tuple[str, list[tuple[str, bytes]]]


def tar_bytes(samples: Iterable[SampleFiles]) -> bytes:
    """A tar of the samples, every header field fixed (mtime 0, owner 0/root-less, mode 0644)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=OUTPUT_FORMAT) as tar:
        for key, members in samples:
            for extension, data in members:
                info = tarfile.TarInfo(f"{key}.{extension}")
                info.size = len(data)
                info.mtime = 0
                info.mode = 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_shards(directory: Path, samples: Iterable[SampleFiles], shard_size: int) -> list[str]:
    """Write ``00000.tar``, ``00001.tar``, … of at most ``shard_size`` samples each; returns the names."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    names: list[str] = []
    batch: list[SampleFiles] = []

    def flush() -> None:
        name = f"{len(names):05d}.tar"
        data = tar_bytes(batch)
        atomic_write(directory / name, lambda fh: fh.write(data))
        names.append(name)
        batch.clear()

    for sample in samples:
        batch.append(sample)
        if len(batch) == shard_size:
            flush()
    if batch:
        flush()
    return names
