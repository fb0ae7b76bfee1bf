"""A real S3 API on loopback for the tests: moto's server mode (``ThreadedMotoServer``) on 127.0.0.1 at a
free port, reached through s3fs exactly as a user's run reaches AWS or MinIO.

How a run finds it is how a user points pairsift at any S3-compatible store (docs/ray.md):

- credentials from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (botocore's usual chain);
- the endpoint from ``FSSPEC_S3_ENDPOINT_URL``, which fsspec reads into its config at import time
  (``fsspec.config.conf["s3"]["endpoint_url"]``) and hands to every ``S3FileSystem`` it makes.

:func:`s3_env` is that environment (for subprocesses); :meth:`S3Server.configure` applies it to this
process. Shared-config files and the EC2 metadata service are switched off so that a test without
credentials fails at once instead of reaching for 169.254.169.254: no test leaves loopback.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec

KEY_ID = "pairsift-test-key"
SECRET = "pairsift-test-secret"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_env(endpoint: str, *, credentials: bool = True) -> dict[str, str]:
    """The environment a process needs to use the server at ``endpoint`` (and nothing beyond loopback)."""
    env = {
        "FSSPEC_S3_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent/pairsift-test-aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/pairsift-test-aws-credentials",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    if credentials:
        env |= {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    return env


#: variables removed before :func:`s3_env` is applied, so the developer's own AWS setup never leaks in
CLEARED = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
)


@dataclass
class S3Server:
    """A running moto server: ``endpoint`` (``http://127.0.0.1:PORT``) and a client filesystem."""

    endpoint: str
    server: Any

    @classmethod
    def start(cls) -> S3Server:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        return cls(f"http://127.0.0.1:{port}", server)

    def stop(self) -> None:
        self.server.stop()

    def filesystem(self) -> fsspec.AbstractFileSystem:
        """A fresh s3fs client with the test credentials (not cached: settings change between tests)."""
        import s3fs

        return s3fs.S3FileSystem(
            key=KEY_ID, secret=SECRET, endpoint_url=self.endpoint, skip_instance_cache=True
        )

    def new_bucket(self) -> str:
        """Create a bucket with a fresh name; its name."""
        name = f"pairsift-{uuid.uuid4().hex[:12]}"
        self.filesystem().mkdir(name)
        return name

    @contextmanager
    def configure(
        self, monkeypatch: Any, *, endpoint: str | None = None, credentials: bool = True
    ) -> Iterator[dict[str, str]]:
        """Point this process's fsspec at the server (or at ``endpoint``), as :func:`s3_env` does for a
        subprocess; undone afterwards. Yields the environment."""
        import s3fs

        for name in CLEARED:
            monkeypatch.delenv(name, raising=False)
        env = s3_env(endpoint or self.endpoint, credentials=credentials)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint or self.endpoint})
        s3fs.S3FileSystem.clear_instance_cache()
        try:
            yield env
        finally:
            s3fs.S3FileSystem.clear_instance_cache()


def upload_tree(fs: fsspec.AbstractFileSystem, local: Path, url: str) -> None:
    """Copy every file under ``local`` to ``url`` (same relative names)."""
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        fs.put_file(str(path), f"{url.removeprefix('s3://')}/{path.relative_to(local).as_posix()}")


def download_tree(fs: fsspec.AbstractFileSystem, url: str) -> dict[str, bytes]:
    """``{relative name: bytes}`` of every object under ``url``."""
    root = url.removeprefix("s3://").rstrip("/")
    fs.invalidate_cache()
    return {key[len(root) + 1 :]: fs.cat_file(key) for key in sorted(fs.find(root))}
