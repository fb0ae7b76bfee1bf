"""fsspec helpers: every read of user data goes through here, so any fsspec URL works."""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.core import url_to_fs

from pairsift.errors import InputError


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


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write a local file through a temporary sibling and rename it into place.

    A reader (or a rerun after kill -9) sees either the old file or the complete new one.
    Temporary names start with ``.`` and end with ``.tmp`` so stale ones are easy to sweep.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sweep_temporaries(directory: Path) -> int:
    """Delete temporaries left by a killed writer; returns how many were removed."""
    removed = 0
    if directory.is_dir():
        for stale in directory.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
            removed += 1
    return removed
