"""The one safe-name rule for tar members, used by every tar reader and every tar writer.

A member is *safe* when it is a regular file (not a link, device, FIFO or sparse file) whose name is a
relative POSIX path that stays inside the folder it is extracted into:

- not empty, not absolute (``/x``), no drive or UNC prefix, no backslash (``..\\x`` on Windows);
- no ``..`` component (``../x``, ``dir/../../x``), no empty component (``a//b``);
- no control character (NUL, newline, …);
- at most :data:`MAX_COMPONENT_BYTES` bytes per component and :data:`MAX_NAME_BYTES` in all (UTF-8).

Readers never read an unsafe member: its sample gets the status ``unsafe_member`` and is counted. Writers
refuse to write one (a ``ValueError``: a bug, since readers filter first), so every tar pairsift writes
extracts inside its target with ``tarfile.extractall`` (with or without ``filter="data"``) and ``tar -x``.
Directories are not samples: readers skip them, writers never write them.
"""

from __future__ import annotations

import re
import tarfile

MAX_COMPONENT_BYTES = 255  #: NAME_MAX of Linux and macOS file systems
MAX_NAME_BYTES = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a safe member name, or ``None`` when it is."""
    if not name:
        return "empty name"
    if _CONTROL.search(name):
        return "control character in the name"
    if name.startswith("/") or _DRIVE.match(name):
        return "absolute name"
    if "\\" in name:
        return "backslash in the name"
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_NAME_BYTES:
        return f"name longer than {MAX_NAME_BYTES} bytes"
    parts = name.split("/")
    if ".." in parts:
        return "'..' component"
    if any(not p for p in parts[:-1]) or not parts[-1]:
        return "empty component"
    if any(len(p.encode("utf-8", "surrogateescape")) > MAX_COMPONENT_BYTES for p in parts):
        return f"component longer than {MAX_COMPONENT_BYTES} bytes"
    return None


def member_problem(info: tarfile.TarInfo) -> str | None:
    """Why a (non-directory) member is unsafe, or ``None``: its type first, then its name."""
    if info.issym():
        return "symbolic link"
    if info.islnk():
        return "hard link"
    if info.ischr() or info.isblk():
        return "device file"
    if info.isfifo():
        return "FIFO"
    if info.issparse():
        return "sparse file"
    if not info.isreg():
        return f"member of type {info.type!r}"
    return name_problem(info.name)


def check_output_name(name: str) -> None:
    """Refuse to write an unsafe member name (every tar writer calls this)."""
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(f"refusing to write tar member {name[:200]!r}: {problem}")


def shown(name: str, limit: int = 120) -> str:
    """A member name for a log line or a stats record: ``repr``-escaped, cut at ``limit`` characters."""
    text = ascii(name)[1:-1]
    return text if len(text) <= limit else text[:limit] + "..."
