"""Where outputs go: a local :class:`~pathlib.Path`, or a :class:`RemotePath` on any fsspec filesystem.

:func:`output_path` turns what the user wrote (``run/``, ``file:///data/run``, ``s3://bucket/run``) into
one of the two. Both offer the same small part of pathlib that pairsift's writers and readers use
(``/``, ``name``, ``stem``, ``parent``, ``exists``, ``is_file``, ``is_dir``, ``glob``, ``read_text``,
``read_bytes``, ``open("rb")``, ``unlink``, ``mkdir``), so a stage is written once for both.

They differ in how an object gets its final name (see :mod:`pairsift.io.fs`): locally a temporary
sibling is renamed into place; on a remote filesystem (object storage, where a rename is a copy and
not atomic) the object is spooled to a local temporary file and uploaded once under its final name
(one PUT, or a multipart upload that the store only shows when it completes). Nothing is appended to
or renamed on the remote side, and a crash leaves at most an object the rerun overwrites: a shard
counts as done only when its completion marker, written last, exists.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.core import url_to_fs

from pairsift.errors import InputError, OutputError

LOCAL_PROTOCOLS = ("file", "local")


class RemotePath:
    """A path on a non-local fsspec filesystem, with the part of pathlib pairsift uses.

    It has no ``__fspath__`` on purpose: handing one to ``open`` or ``os.*`` is a ``TypeError``, never
    a local file named ``s3:/…``. Pickles with its filesystem (fsspec filesystems pickle by options).
    """

    def __init__(self, fs: fsspec.AbstractFileSystem, path: str) -> None:
        self.fs = fs
        self.path = path.rstrip("/") or path

    @property
    def url(self) -> str:
        """The path as the user writes it, with the protocol (``s3://bucket/run/run.json``)."""
        protocol = self.fs.protocol[0] if isinstance(self.fs.protocol, (tuple, list)) else self.fs.protocol
        return f"{protocol}://{self.path.lstrip('/')}"

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"RemotePath({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    def __lt__(self, other: RemotePath) -> bool:
        return self.url < other.url

    def __truediv__(self, name: str) -> RemotePath:
        return RemotePath(self.fs, posixpath.join(self.path, str(name)))

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def stem(self) -> str:
        name = self.name
        return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name

    @property
    def suffix(self) -> str:
        name = self.name
        return "." + name.rsplit(".", 1)[1] if "." in name.lstrip(".") else ""

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(p for p in self.path.split("/") if p)

    @property
    def parent(self) -> RemotePath:
        return RemotePath(self.fs, posixpath.dirname(self.path))

    def resolve(self) -> RemotePath:
        return self

    def exists(self) -> bool:
        return bool(self._ask(self.fs.exists, "check"))

    def is_file(self) -> bool:
        return bool(self._ask(self.fs.isfile, "check"))

    def is_dir(self) -> bool:
        """True when objects exist under this prefix (object stores have no empty folders)."""
        return bool(self._ask(self.fs.isdir, "check"))

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: a prefix exists once an object is written under it."""

    def glob(self, pattern: str) -> Iterator[RemotePath]:
        """The objects directly under this prefix whose names match ``pattern`` (``fnmatch``)."""
        try:
            names = self._ask(lambda p: self.fs.ls(p, detail=False, refresh=True), "list")
        except FileNotFoundError:
            return iter(())
        found = sorted(posixpath.basename(str(n).rstrip("/")) for n in names)
        return iter([self / n for n in found if fnmatch.fnmatchcase(n, pattern)])

    def open(self, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        """Open for reading; writes go through :func:`pairsift.io.fs.atomic_write` only."""
        if "r" not in mode or "+" in mode:
            raise ValueError(f"{self.url}: remote outputs are written with atomic_write, not open({mode!r})")
        try:
            return self.fs.open(self.path, mode, **kwargs)
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.url}: cannot open: {describe_remote_error(exc)}") from exc

    def read_bytes(self) -> bytes:
        with self.open("rb") as fh:
            return fh.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.rm_file(self.path)
        except FileNotFoundError:
            if not missing_ok:
                raise
        self.fs.invalidate_cache(self.parent.path)

    def upload(self, local: Path) -> None:
        """Put the finished local file ``local`` under this name in one upload (the only remote write)."""
        try:
            self.fs.put_file(str(local), self.path)
        except Exception as exc:
            raise OutputError(
                5,
                f"{self.url}: cannot write: {describe_remote_error(exc)}; nothing was written under "
                "that name",
            ) from exc
        finally:
            self.fs.invalidate_cache(self.parent.path)

    def _ask(self, call: Any, doing: str) -> Any:
        try:
            return call(self.path)
        except FileNotFoundError:
            raise
        except Exception as exc:  # botocore/aiohttp errors are not OSErrors; say which URL and why
            raise InputError(f"{self.url}: cannot {doing}: {describe_remote_error(exc)}") from exc


Location = Path | RemotePath


def is_remote(url: str | Path | RemotePath) -> bool:
    if isinstance(url, RemotePath):
        return True
    if isinstance(url, Path) or "://" not in str(url):
        return False
    return str(url).split("://", 1)[0] not in LOCAL_PROTOCOLS


def output_path(url: str | Path | RemotePath) -> Location:
    """A :class:`Path` for a local path or ``file://`` URL, a :class:`RemotePath` for any other URL."""
    if isinstance(url, (Path, RemotePath)):
        return url
    if not is_remote(url):
        return Path(url.split("://", 1)[1]) if "://" in url else Path(url)
    try:  # no listings cache: other processes (workers, other nodes) write the markers asked about here
        fs, path = url_to_fs(url, use_listings_cache=False)
    except (ImportError, ValueError) as exc:
        raise InputError(f"{url}: cannot use this URL: {exc}") from exc
    return RemotePath(fs, path)


def check_reachable(location: Location) -> None:
    """Fail early, naming the URL, when a remote output cannot be used (no such bucket, an endpoint that
    does not answer, missing or refused credentials). A local path is always fine here."""
    if not isinstance(location, RemotePath):
        return
    bucket = location.path.split("/", 1)[0]
    try:
        if hasattr(location.fs, "call_s3"):  # s3fs: one request, whatever the bucket holds
            location.fs.call_s3("head_bucket", Bucket=bucket)
        else:
            location.fs.ls(bucket, detail=False, refresh=True)
    except FileNotFoundError as exc:
        raise OutputError(
            2,
            f"{location.url}: cannot write there: the bucket {bucket!r} does not exist ({exc}); "
            "create it first",
        ) from exc
    except Exception as exc:
        raise OutputError(5, f"{location.url}: cannot write there: {describe_remote_error(exc)}") from exc


def describe_remote_error(exc: BaseException) -> str:
    """One line on why a remote call failed, with a hint for the usual misconfigurations."""
    text = str(exc).strip().split("\n", 1)[0] or type(exc).__name__
    name = type(exc).__name__
    if name == "NoCredentialsError" or "Unable to locate credentials" in text:
        return (
            f"no credentials ({text}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), "
            "see docs/ray.md"
        )
    if isinstance(exc, PermissionError) or "AccessDenied" in text or "InvalidAccessKeyId" in text:
        return f"access denied ({text}); check the credentials and the bucket's policy"
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError") or (
        "Could not connect" in text
    ):
        return (
            f"the endpoint does not answer ({text}); check FSSPEC_S3_ENDPOINT_URL or AWS_ENDPOINT_URL "
            "(see docs/ray.md)"
        )
    return f"{name}: {text}"


def _arrow(path: Location) -> tuple[str | Path, Any]:
    """``(source, filesystem)`` for pyarrow: the local path as it is, or the remote key with its fsspec
    filesystem (which pyarrow wraps itself)."""
    return (path.path, path.fs) if isinstance(path, RemotePath) else (path, None)


def read_parquet(path: Location, columns: list[str] | None = None) -> Any:
    """``pq.read_table`` of a local or remote parquet file."""
    import pyarrow.parquet as pq

    source, fs = _arrow(path)
    return pq.read_table(source, columns=columns, filesystem=fs)


def read_parquet_schema(path: Location) -> Any:
    import pyarrow.parquet as pq

    source, fs = _arrow(path)
    return pq.read_schema(source, filesystem=fs)


def parquet_rows(path: Location) -> int:
    """The row count in a parquet file's footer."""
    import pyarrow.parquet as pq

    source, fs = _arrow(path)
    return int(pq.ParquetFile(source, filesystem=fs).metadata.num_rows)


def local_scratch(location: Location, name: str) -> Path:
    """A local folder for scratch work beside ``location``: inside it when local, in the temporary
    folder (one per URL) when remote, since scratch files are appended to and renamed."""
    if isinstance(location, Path):
        return location / name
    import hashlib
    import tempfile

    digest = hashlib.sha256(location.url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"pairsift-{digest}" / name


def local_copy(path: str | Path | RemotePath) -> Path:
    """A local file with the content of ``path``: the path itself when local, else a download into the
    local temporary folder (one file per URL, fetched again only when the object's size or ETag changed)
    for readers that need a real file (``np.load(mmap_mode=…)``, ``np.memmap``)."""
    location = output_path(path)
    if isinstance(location, Path):
        return location
    import hashlib
    import os
    import tempfile

    try:
        info = location.fs.info(location.path)
    except FileNotFoundError:
        raise InputError(f"{location.url}: no such file") from None
    except Exception as exc:
        raise InputError(f"{location.url}: cannot read: {describe_remote_error(exc)}") from exc
    stamp = f"{location.url}\0{info.get('size')}\0{info.get('ETag') or info.get('etag') or info.get('mtime')}"
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:24]
    folder = Path(tempfile.gettempdir()) / "pairsift-downloads"
    target = folder / f"{digest}-{location.name}"
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        try:
            location.fs.get_file(location.path, tmp)
            os.replace(tmp, target)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, Exception) and not isinstance(exc, FileNotFoundError):
                raise InputError(f"{location.url}: cannot read: {describe_remote_error(exc)}") from exc
            raise
    return target
