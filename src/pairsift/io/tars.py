"""Webdataset tars: stream samples out of a tar, write samples into size-capped tars.

A *sample* is a run of consecutive regular members sharing a key: the member name up to the first
``.`` of its basename, directory included (``shard/000123.jpg`` -> ``shard/000123``), as webdataset
groups them. Members are kept as ``(TarInfo, bytes)`` pairs so they can be written back unchanged.

Reading follows :mod:`pairsift.io.member_names` (links, devices and unsafe names are never read) and
:class:`~pairsift.io.limits.ReadLimits` (a member over its cap is never read; a shard past its decompressed
cap fails). Both kinds of refusal are kept on the sample (:attr:`Sample.refused`), never dropped silently.
"""

from __future__ import annotations

import bz2
import contextlib
import copy
import glob
import gzip
import io
import logging
import lzma
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pairsift.data import MEMBER_TOO_LARGE, UNSAFE_MEMBER
from pairsift.errors import InputError
from pairsift.io.fs import open_input, publish, resolve
from pairsift.io.limits import MAX_HEADER_BYTES, ReadLimits
from pairsift.io.location import RemotePath
from pairsift.io.member_names import check_output_name, member_problem, shown

logger = logging.getLogger(__name__)

Member = tuple[tarfile.TarInfo, bytes]

#: Output tars are always written in this format, whatever the input used, so bytes are reproducible.
OUTPUT_FORMAT = tarfile.PAX_FORMAT


def sample_key(name: str) -> str:
    """``dir/000123.jpg`` -> ``dir/000123``; a basename without ``.`` is its own key."""
    head, sep, base = name.rpartition("/")
    return head + sep + base.split(".", 1)[0]


@dataclass(frozen=True)
class Refusal:
    """A member that was not read: its name (escaped, cut), ``status`` (``unsafe_member`` or
    ``member_too_large``), why, and its extension after the key (lower case, e.g. ``jpg``)."""

    name: str
    status: str
    detail: str
    extension: str


@dataclass
class Sample:
    """One webdataset sample: its key, its members in archive order, and the members refused."""

    key: str
    members: list[Member] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

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

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        # extended headers are read whole into memory by tarfile: refuse absurd ones before that
        if self.type in _EXTENDED and self.size > MAX_HEADER_BYTES:
            raise tarfile.HeaderError(f"extended header of {self.size} bytes (more than {MAX_HEADER_BYTES})")
        return super()._proc_member(tar)  # type: ignore[misc]


_EXTENDED = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


def read_samples(url: str, limits: ReadLimits | None = None) -> Generator[Sample, None, None]:
    """Stream the samples of one tar (any fsspec URL; gzip and friends are detected), in bounded memory.

    A corrupt or truncated archive, or one past ``limits.max_shard_bytes`` after decompression, raises
    :class:`InputError` naming the file, after the samples before that were yielded; callers that must
    not act on a partial shard wait for the end.
    """
    limits = limits or ReadLimits()
    fs, path = resolve(url)
    try:
        with (
            open_input(fs, path) as raw,
            _decompressed(raw) as fh,
            tarfile.open(fileobj=fh, mode="r|", tarinfo=_StrictTarInfo) as tar,
        ):
            yield from _group(_members(tar, limits, url))
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise InputError(f"{url}: cannot read tar (corrupt or truncated?): {exc}") from exc


#: magic bytes of the compressions a tar may come in -> a reader that decompresses in bounded steps
_COMPRESSED: tuple[tuple[bytes, Callable[[IO[bytes]], Any]], ...] = (
    (b"\x1f\x8b", lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")),
    (b"BZh", bz2.BZ2File),
    (b"\xfd7zXZ\x00", lzma.LZMAFile),
)


@contextlib.contextmanager
def _decompressed(raw: IO[bytes]) -> Iterator[IO[bytes]]:
    """``raw`` itself, or a decompressing reader of it (gzip, bzip2, xz: detected by content).

    These readers decompress at most the bytes asked for per read, so a bomb's zeros never sit in memory
    (``tarfile``'s own ``r|*`` decompresses a whole input block at once: ~16 MB per 16 KB of zeros).
    """
    head = raw.read(6)
    raw.seek(0)
    opener = next((o for magic, o in _COMPRESSED if head.startswith(magic)), None)
    if opener is None:
        yield raw
        return
    with opener(raw) as fh:
        yield fh


def _members(tar: tarfile.TarFile, limits: ReadLimits, url: str) -> Iterator[tuple[Member, Refusal | None]]:
    """Every non-directory member: ``((info, bytes), None)``, or ``((info, b""), refusal)`` unread."""
    for info in tar:
        if info.isdir():
            continue
        if info.offset_data + info.size > limits.max_shard_bytes:
            raise InputError(
                f"{url}: more than {limits.max_shard_bytes} bytes after decompression (max_shard_bytes) at "
                f"member {shown(info.name)!r}; a tar bomb, or raise the limit if the shard is genuine"
            )
        problem = member_problem(info)
        extension = info.name[len(sample_key(info.name)) + 1 :].lower()
        if problem is not None:
            yield (info, b""), Refusal(shown(info.name), UNSAFE_MEMBER, problem, extension)
            continue
        cap = limits.for_member(info.name)
        if info.size > cap:
            detail = f"{info.size} bytes, more than {cap}"
            yield (info, b""), Refusal(shown(info.name), MEMBER_TOO_LARGE, detail, extension)
            continue
        fh = tar.extractfile(info)
        yield (info, fh.read() if fh is not None else b""), None


def _group(members: Iterator[tuple[Member, Refusal | None]]) -> Iterator[Sample]:
    current: Sample | None = None
    for (info, data), refusal in members:
        key = sample_key(info.name)
        if current is None or key != current.key:
            if current is not None:
                yield current
            current = Sample(key)
        if refusal is None:
            current.members.append((info, data))
        else:
            logger.debug("%s: member %s not read: %s", current.key, refusal.name, refusal.detail)
            current.refused.append(refusal)
    if current is not None:
        yield current


class TarSink:
    """Write samples into ``<stem>-000000.tar``, ``<stem>-000001.tar``, … of at most ``shard_size`` samples.

    Every tar is written under a temporary name (``.<name>.*.tmp``) and only :meth:`commit` renames
    them all into place, so a failed or killed shard leaves nothing under a final name.
    """

    def __init__(self, directory: Path | RemotePath, stem: str, shard_size: int) -> None:
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
        """Append one sample; its members are copied as they are (header fields and bytes), as regular
        files with safe names (:mod:`pairsift.io.member_names`; an unsafe one is a ``ValueError``) and
        permission bits only (no setuid, setgid or sticky bit)."""
        for info, _ in members:
            check_output_name(info.name)
            if member_problem(info) is not None:
                raise ValueError(f"refusing to write tar member {shown(info.name)!r}: {member_problem(info)}")
        if self._tar is None or self._count == self.shard_size:
            self._open_next()
        assert self._tar is not None
        for info, data in members:
            self._tar.addfile(_plain(info), io.BytesIO(data))
        self._count += 1

    def _open_next(self) -> None:
        self._close_current()
        final = self.name(len(self._done))
        local = None if isinstance(self.directory, RemotePath) else self.directory  # remote: upload at commit
        fd, tmp = tempfile.mkstemp(prefix=f".{final}.", suffix=".tmp", dir=local)
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
        """Close the last tar and rename (locally) or upload (remote) every tar into place; returns the
        final names in order."""
        self._close_current()
        for tmp, final in self._done:
            publish(Path(tmp), self.directory / final)
        return [final for _, final in self._done]

    def abort(self) -> None:
        """Drop everything written so far."""
        try:
            self._close_current(sync=False)
        finally:
            for tmp, _ in self._done:
                Path(tmp).unlink(missing_ok=True)
            self._done.clear()


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """``info`` as a plain regular file: type ``REGTYPE``, permission bits only, no link target."""
    if info.type == tarfile.REGTYPE and not info.mode & ~0o777 and "linkpath" not in info.pax_headers:
        return info
    twin = copy.copy(info)
    twin.type, twin.mode, twin.linkname = tarfile.REGTYPE, info.mode & 0o777, ""
    twin.pax_headers = {k: v for k, v in info.pax_headers.items() if k != "linkpath"}
    return twin


def output_tars(directory: Path | RemotePath, stem: str) -> list[Any]:
    """The final-named output tars of one input stem (``<stem>-NNNNNN.tar``), sorted."""
    pattern = re.compile(re.escape(stem) + r"-\d{6,}\.tar")
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"{glob.escape(stem)}-*.tar") if pattern.fullmatch(p.name))
