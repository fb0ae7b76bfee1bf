"""fsspec helpers: every read of user data goes through here, so any fsspec URL works."""

from __future__ import annotations

import errno
import os
import posixpath
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.core import url_to_fs

from pairsift.errors import InputError, OutputError
from pairsift.io.location import RemotePath


def resolve(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """``(filesystem, path)`` for a local path or any fsspec URL."""
    fs, path = url_to_fs(url)
    return fs, path


def join(fs: fsspec.AbstractFileSystem, root: str, name: str) -> str:
    return (
        posixpath.join(root, name)
        if fs.protocol not in ("file", ("file", "local"))
        else os.path.join(root, name)
    )


def display(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """A path as the user would write it (with the protocol for remote filesystems)."""
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    return path if protocol in ("file", "local") else f"{protocol}://{path.lstrip('/')}"


def open_input(fs: fsspec.AbstractFileSystem, path: str) -> IO[bytes]:
    try:
        return fs.open(path, "rb")
    except (OSError, ValueError) as exc:
        raise InputError(f"{display(fs, path)}: cannot open: {exc}") from exc


#: ``errno`` of a failed write that is about the output's storage, not the data: what :func:`atomic_write`
#: reports as an :class:`OutputError`. EFBIG: a file size limit (``ulimit -f``, RLIMIT_FSIZE).
OUTPUT_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file size limit",
    errno.EIO: "input/output error",
}


def atomic_write(path: str | Path | RemotePath, write: Callable[[IO[bytes]], Any]) -> None:
    """Write a file so that a reader (or a rerun after kill -9) sees the old one or the complete new one.

    Locally: through a temporary sibling renamed into place. Temporary names start with ``.`` and end
    with ``.tmp`` so stale ones are easy to sweep. On a remote filesystem (a :class:`RemotePath`):
    through a local temporary file uploaded once under the final name (:func:`publish`); nothing is
    renamed or appended there. A write that fails for lack of space (or quota, size limit, I/O error)
    raises :class:`OutputError` naming ``path``; the temporary is removed and an earlier file under
    ``path`` is left as it was.
    """
    path = path if isinstance(path, RemotePath) else Path(path)
    tmp = write_temporary(path, write)
    publish(tmp, path)


def publish(tmp: Path, path: str | Path | RemotePath) -> None:
    """Give the finished temporary ``tmp`` (from :func:`write_temporary`) its final name ``path``: a
    rename locally, one upload on a remote filesystem; the temporary is gone afterwards either way."""
    try:
        if isinstance(path, RemotePath):
            path.upload(tmp)
            tmp.unlink(missing_ok=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_temporary(path: str | Path | RemotePath, write: Callable[[IO[bytes]], Any]) -> Path:
    """The first half of :func:`atomic_write`: write, flush and fsync a temporary file for ``path`` and
    return it (the caller gives it its name with :func:`publish`, or unlinks it). Locally it is a
    sibling of ``path``; for a remote ``path`` it lies in the local temporary folder."""
    if isinstance(path, RemotePath):
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp")
    else:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    fh = _Output(os.fdopen(fd, "wb"), path)
    try:
        write(fh)  # type: ignore[arg-type]
        fh.flush()
        fh.sync()
        fh.close()
        return tmp
    except BaseException as exc:
        fh.close(quietly=True)
        tmp.unlink(missing_ok=True)
        if fh.failed is not None and exc is not fh.failed:  # re-raised by pyarrow as its own OSError
            raise fh.failed from exc
        raise


def output_error(path: Path | RemotePath, exc: OSError) -> OutputError:
    """The one-line error of a write to ``path`` that failed for ``exc`` (see :data:`OUTPUT_ERRNOS`)."""
    reason = OUTPUT_ERRNOS.get(exc.errno or 0) or exc.strerror or str(exc)
    return OutputError(
        exc.errno or errno.EIO,
        f"{path}: cannot write: {reason}; nothing was written under that name (an earlier file there is "
        "unchanged). Free some space or choose another output",
    )


class _Output:
    """The temporary file as writers see it: a write that fails (also inside numpy or pyarrow, which
    report it vaguely, e.g. ``OSError: 64 requested and 0 written``) becomes an :class:`OutputError`
    naming the final path, so a failed read inside ``write`` is never taken for a full disk."""

    def __init__(self, fh: IO[bytes], path: Path | RemotePath) -> None:
        self._fh, self._path = fh, path
        self.failed: OutputError | None = None  #: the first failure (a library may wrap it in its own)

    def _fail(self, exc: OSError) -> OutputError:
        if self.failed is None:
            self.failed = output_error(self._path, exc)
        return self.failed

    def write(self, data: Any) -> int:
        try:
            return self._fh.write(data)
        except OSError as exc:
            raise self._fail(exc) from exc

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as exc:
            raise self._fail(exc) from exc

    def sync(self) -> None:
        try:
            os.fsync(self._fh.fileno())
        except OSError as exc:
            raise self._fail(exc) from exc

    def close(self, *, quietly: bool = False) -> None:
        """Close the file (a failure is an :class:`OutputError`, or ignored when ``quietly``)."""
        try:
            self._fh.close()
        except OSError as exc:
            if not quietly:
                raise self._fail(exc) from exc

    def __getattr__(self, name: str) -> Any:  # tell, seek, seekable, closed, ... of the real file
        return getattr(self._fh, name)


def sweep_temporaries(directory: Path | RemotePath) -> int:
    """Delete temporaries left by a killed writer; returns how many were removed (none on a remote
    filesystem, where no temporary is ever written)."""
    removed = 0
    if isinstance(directory, Path) and directory.is_dir():
        for stale in directory.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
            removed += 1
    return removed
