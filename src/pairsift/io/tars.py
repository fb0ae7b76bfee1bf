"""Webdataset tars: stream samples out of a tar, write samples into size-capped tars.

A *sample* is a run of consecutive regular members sharing a key: the member name up to the first
``.`` of its basename, directory included (``shard/000123.jpg`` -> ``shard/000123``), as webdataset
groups them. Members are kept as ``(TarInfo, bytes)`` pairs so they can be written back unchanged.
"""

from __future__ import annotations

import copy
import glob
import io
import logging
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pairsift.errors import InputError
from pairsift.io.fs import open_input, resolve

logger = logging.getLogger(__name__)

Member = tuple[tarfile.TarInfo, bytes]

#: Output tars are always written in this format, whatever the input used, so bytes are reproducible.
OUTPUT_FORMAT = tarfile.PAX_FORMAT


def sample_key(name: str) -> str:
    """``dir/000123.jpg`` -> ``dir/000123``; a basename without ``.`` is its own key."""
    head, sep, base = name.rpartition("/")
    return head + sep + base.split(".", 1)[0]


@dataclass
class Sample:
    """One webdataset sample: its key and its members, in archive order."""

    key: str
    members: list[Member] = field(default_factory=list)

    def member(self, extension: str) -> bytes | None:
        """Bytes of the first member ``KEY.<extension>`` (case-insensitive), if any."""
        wanted = "." + extension.lower()
        for info, data in self.members:
            if info.name[len(self.key) :].lower() == wanted:
                return data
        return None

    def renamed(self, key: str) -> list[Member]:
        """The members under another key (``KEY.jpg`` -> ``NEWKEY.jpg``), all else unchanged."""
        if key == self.key:
            return self.members
        out = []
        for info, data in self.members:
            twin = copy.copy(info)
            twin.name = key + info.name[len(self.key) :]
            # a pax "path" record would override the new name when the header is written
            twin.pax_headers = {k: v for k, v in info.pax_headers.items() if k != "path"}
            out.append((twin, data))
        return out


class _StrictTarInfo(tarfile.TarInfo):
    """A TarInfo whose reader treats a missing, short or damaged header as an error.

    ``tarfile`` stops silently at such a header after the first member, reading a truncated
    archive as a shorter valid one. Only the end-of-archive marker (a zero block) ends the archive here.
    """

    @classmethod
    def fromtarfile(cls, tar: tarfile.TarFile) -> _StrictTarInfo:
        try:
            return super().fromtarfile(tar)
        except tarfile.HeaderError as exc:
            if isinstance(exc, tarfile.EOFHeaderError):  # type: ignore[attr-defined]
                raise
            raise tarfile.ReadError(f"{exc} at byte {tar.offset} (truncated or damaged archive)") from None


def read_samples(url: str) -> Generator[Sample, None, None]:
    """Stream the samples of one tar (any fsspec URL; gzip and friends are detected).

    A corrupt or truncated archive raises :class:`InputError` naming the file, after the samples
    before the damage were yielded; callers that must not act on a partial shard wait for the end.
    """
    fs, path = resolve(url)
    try:
        with (
            open_input(fs, path) as fh,
            tarfile.open(fileobj=fh, mode="r|*", tarinfo=_StrictTarInfo) as tar,
        ):
            yield from _group(_regular_members(tar))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise InputError(f"{url}: cannot read tar (corrupt or truncated?): {exc}") from exc


def _regular_members(tar: tarfile.TarFile) -> Iterator[Member]:
    for info in tar:
        if not info.isreg():
            logger.debug("%s: skipping %s (not a regular file)", tar.name, info.name)
            continue
        fh = tar.extractfile(info)
        yield info, fh.read() if fh is not None else b""


def _group(members: Iterator[Member]) -> Iterator[Sample]:
    current: Sample | None = None
    for info, data in members:
        key = sample_key(info.name)
        if current is None or key != current.key:
            if current is not None:
                yield current
            current = Sample(key)
        current.members.append((info, data))
    if current is not None:
        yield current


class TarSink:
    """Write samples into ``<stem>-000000.tar``, ``<stem>-000001.tar``, … of at most ``shard_size`` samples.

    Every tar is written under a temporary name (``.<name>.*.tmp``) and only :meth:`commit` renames
    them all into place, so a failed or killed shard leaves nothing under a final name.
    """

    def __init__(self, directory: Path, stem: str, shard_size: int) -> None:
        if shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {shard_size}")
        self.directory = directory
        self.stem = stem
        self.shard_size = shard_size
        self._done: list[tuple[str, str]] = []  # (temporary path, final name)
        self._file: IO[bytes] | None = None
        self._tar: tarfile.TarFile | None = None
        self._count = 0

    def name(self, index: int) -> str:
        return f"{self.stem}-{index:06d}.tar"

    def add(self, members: list[Member]) -> None:
        """Append one sample; its members are copied as they are (header fields and bytes)."""
        if self._tar is None or self._count == self.shard_size:
            self._open_next()
        assert self._tar is not None
        for info, data in members:
            self._tar.addfile(info, io.BytesIO(data))
        self._count += 1

    def _open_next(self) -> None:
        self._close_current()
        final = self.name(len(self._done))
        fd, tmp = tempfile.mkstemp(prefix=f".{final}.", suffix=".tmp", dir=self.directory)
        self._done.append((tmp, final))
        self._file = os.fdopen(fd, "wb")
        # kept open across add() calls; closed by _close_current
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=OUTPUT_FORMAT)  # noqa: SIM115
        self._count = 0

    def _close_current(self, *, sync: bool = True) -> None:
        if self._tar is not None and self._file is not None:
            try:
                self._tar.close()  # writes the end-of-archive blocks
                if sync:
                    self._file.flush()
                    os.fsync(self._file.fileno())
            finally:
                self._file.close()
                self._tar = self._file = None

    def commit(self) -> list[str]:
        """Close the last tar and rename every tar into place; returns the final names in order."""
        self._close_current()
        for tmp, final in self._done:
            os.replace(tmp, self.directory / final)
        return [final for _, final in self._done]

    def abort(self) -> None:
        """Drop everything written so far."""
        try:
            self._close_current(sync=False)
        finally:
            for tmp, _ in self._done:
                Path(tmp).unlink(missing_ok=True)
            self._done.clear()


def output_tars(directory: Path, stem: str) -> list[Path]:
    """The final-named output tars of one input stem (``<stem>-NNNNNN.tar``), sorted."""
    pattern = re.compile(re.escape(stem) + r"-\d{6,}\.tar")
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"{glob.escape(stem)}-*.tar") if pattern.fullmatch(p.name))
