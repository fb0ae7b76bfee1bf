"""The run directory: ``run.json`` (what was asked and resolved), score tables, resumability, and the lock
that keeps two processes from scoring into one run at once."""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import IO, Any

try:
    import fcntl
except ImportError:  # not on Windows: runs there are not locked
    fcntl = None  # type: ignore[assignment]

from pairsift.errors import InputError, RunConfigError
from pairsift.io.fs import atomic_write, sweep_temporaries
from pairsift.io.location import Location, RemotePath, check_reachable, local_scratch, output_path

logger = logging.getLogger(__name__)

MANIFEST = "run.json"
LOCK = ".lock"  #: ``flock``-ed while a process scores into the run; holds that process's pid, host, start
SCORES = "scores"
SUBSETS = "subsets"  #: where ``pairsift demo`` writes its selections and ``pairsift report`` looks
STAGING = ".staging"
WORK = ".work"
PACKAGES = ("pairsift", "torch", "numpy", "pyarrow", "fsspec")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


class RunDir:
    """Paths and bookkeeping of one run. A shard is done when its score table exists.

    ``path`` may be any fsspec URL (:func:`~pairsift.io.location.output_path`): on object storage every
    file is uploaded once under its final name, the scratch folder ``.work`` lies in the local temporary
    folder, and the run is not locked (object stores have no ``flock``: start one run per prefix).

    :meth:`prepare` takes the run's lock (:meth:`lock`) and the object holds it until :meth:`close`, the
    end of a ``with RunDir(...)`` block, its garbage collection or the end of the process, whichever comes
    first: the kernel drops a ``flock`` when its holder dies, so a lock of a killed run never blocks.
    """

    def __init__(self, path: str | Path | RemotePath) -> None:
        self.path: Location = output_path(path)
        self.scores = self.path / SCORES
        self.subsets = self.path / SUBSETS
        self.staging = self.path / STAGING
        self.work = local_scratch(self.path, WORK)
        self.manifest = self.path / MANIFEST
        self.lock_file = self.path / LOCK
        self._held: _Held | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_held"} | {"_held": None}

    def lock(self) -> RunDir:
        """Take the run's exclusive lock (once per object; see :class:`_Held`); returns self.

        Raises :class:`RunConfigError` naming the holder when another process holds it.
        """
        if self._held is None and isinstance(self.path, RemotePath):
            logger.debug("%s: object storage has no locks; the run is not locked", self.path)
        elif self._held is None:
            self.path.mkdir(parents=True, exist_ok=True)
            self._held = _Held.take(Path(str(self.lock_file)))
        return self

    def close(self) -> None:
        """Release the lock, if this object holds it."""
        held, self._held = self._held, None
        if held is not None:
            held.release()

    def __enter__(self) -> RunDir:
        return self.lock()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_held", None) is not None:  # also when __init__ did not finish
            self.close()

    def table(self, shard: str) -> Location:
        return self.scores / f"{shard}.parquet"

    def staged(self, shard: str) -> Location:
        return self.staging / f"{shard}.parquet"

    def read_manifest(self) -> dict[str, Any]:
        """``run.json`` as a mapping ({} when there is none); unreadable JSON is an error naming the file."""
        if not self.manifest.exists():
            return {}
        try:
            data = json.loads(self.manifest.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{self.manifest}: cannot read: {exc}") from exc
        if not isinstance(data, dict):
            raise InputError(f"{self.manifest}: expected a JSON object, found {type(data).__name__}")
        return data

    def prepare(self, manifest: dict[str, Any]) -> bool:
        """Create the directory and write ``run.json``, or check it against an earlier run.

        Returns True when resuming. The ``scoring`` part of the manifest (pool, embeddings, source,
        scorers and their parameters, seed, precision) must match exactly; device and worker count
        may differ between runs since they do not change which scores are computed.
        """
        check_reachable(self.path)
        self.lock()  # first: the temporaries swept below may otherwise be another run's, in flight
        try:
            for folder in (self.scores, self.staging, self.work):
                folder.mkdir(parents=True, exist_ok=True)
                sweep_temporaries(folder)
            if self.manifest.exists():
                earlier = self.read_manifest()
                self._check_format(earlier, manifest)
                self._check(earlier["scoring"], manifest["scoring"], _versions(earlier, manifest))
                return True
            atomic_write(self.manifest, lambda fh: fh.write(_dump(manifest)))
            return False
        except BaseException:
            self.close()
            raise

    def record(self, key: str, value: Any) -> None:
        """Add (or replace) one top-level entry of ``run.json``, atomically; ``scoring`` is not touched."""
        if key == "scoring":
            raise ValueError("the scoring part of run.json is written once, by prepare()")
        manifest = self.read_manifest()
        manifest[key] = value
        atomic_write(self.manifest, lambda fh: fh.write(_dump(manifest)))

    def _check_format(self, earlier: dict[str, Any], now: dict[str, Any]) -> None:
        """Refuse a ``run.json`` this version cannot resume (no ``scoring`` object: another tool's file,
        or a layout older than the resumable one), naming the version that wrote it."""
        if isinstance(earlier.get("scoring"), dict):
            return
        wrote = (earlier.get("versions") or {}).get("pairsift", "an unknown version")
        ours = now.get("versions", {}).get("pairsift", "this version")
        raise RunConfigError(
            f"{self.manifest} was written by pairsift {wrote}, not in the layout pairsift {ours} resumes "
            "(expected a JSON object with a 'scoring' object); nothing there was changed. Use a new "
            "output, or delete this one to start over"
        )

    def _check(self, earlier: dict[str, Any], now: dict[str, Any], versions: str = "") -> None:
        if _canonical(earlier) == _canonical(now):
            return
        diffs = [
            f"  {key}: was {json.dumps(earlier.get(key))}, now {json.dumps(now.get(key))}"
            for key in sorted(set(earlier) | set(now))
            if _canonical(earlier.get(key)) != _canonical(now.get(key))
        ]
        raise RunConfigError(
            f"{self.path} holds a run made with another configuration{versions}; refusing to mix scores.\n"
            + "\n".join(diffs)
            + "\nUse a new output directory, or delete this one to start over."
        )


@dataclass
class _Held:
    """One process's hold on a run's lock file, shared by every :class:`RunDir` of that run in it.

    ``flock`` excludes other processes. Inside one process a second ``RunDir`` of the same run (a rerun
    after an error whose traceback keeps the first alive) shares the hold instead of locking itself out;
    the file is closed, and the lock released, when the last one lets go.
    """

    key: str
    fh: IO[str] | None
    count: int = 1

    @classmethod
    def take(cls, path: Path) -> _Held:
        key = os.path.realpath(path)
        with _GUARD:
            held = _HELD.get(key)
            if held is None:
                held = _HELD[key] = cls(key, _flock(path), 0)
            held.count += 1
            return held

    def release(self) -> None:
        with _GUARD:
            self.count -= 1
            if self.count > 0:
                return
            _HELD.pop(self.key, None)
            if self.fh is not None:
                self.fh.close()  # releases the flock


_HELD: dict[str, _Held] = {}  #: this process's holds, by the lock file's real path
_GUARD = threading.Lock()


def _flock(path: Path) -> IO[str] | None:
    """Open ``path`` (never truncating another's record), lock it or fail naming the holder, record us."""
    if fcntl is None:
        logger.debug("%s: no fcntl on this platform; the run is not locked", path)
        return None
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the whole run
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        raise RunConfigError(
            f"{path.parent} is in use by another run ({_describe_holder(holder)}; lock {path}); two runs "
            "into one directory would both score every shard. Wait for it to finish, or stop it: a lock "
            "of a process that has ended never blocks"
        ) from None
    except BaseException:
        fh.close()
        raise
    fh.seek(0)
    fh.truncate()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}) + "\n")
    fh.flush()
    return fh


def _describe_holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}"
    except (ValueError, KeyError, TypeError):
        return "a process that has not written its pid yet" if not text else f"holder {text[:80]!r}"


def _versions(earlier: dict[str, Any], now: dict[str, Any]) -> str:
    """`` (written by pairsift X; this is Y)`` when the two manifests' pairsift versions differ."""
    wrote = (earlier.get("versions") or {}).get("pairsift")
    ours = (now.get("versions") or {}).get("pairsift")
    return f" (written by pairsift {wrote}; this is {ours})" if wrote and ours and wrote != ours else ""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _dump(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode()
