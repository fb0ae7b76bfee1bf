"""Shared fixtures: tiny pools built in code, scoring configs on CPU."""

from __future__ import annotations

import os

# Every Ray node a test starts is on loopback. On Linux Ray gives a node the address this machine would use
# to reach the internet and turns "127.0.0.1" back into it; with this switch off (read when ray is
# imported, so set before any test imports it) Ray's own address lookup answers 127.0.0.1, for the
# drivers, the ``Cluster`` nodes of the multi-node tests and the one-node Rays alike. The name says Windows
# and macOS because there it is off by default; it does not stop ``ray.cluster_utils.Cluster`` from
# starting several nodes. No token auth between the tests' own processes, no usage reporting.
for _name, _value in {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
}.items():
    os.environ.setdefault(_name, _value)

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

from pairsift.engines import EngineConfig
from pairsift.io.sources import SourceConfig
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec
from tests import pools


@pytest.fixture
def make_pool(tmp_path: Path) -> Callable[..., Path]:
    """``make_pool(name="pool", shards=2, rows=50, dim=16, dtype="float32", family="l14", seed=0)``."""

    def make(name: str = "pool", **options: Any) -> Path:
        return pools.make_pool(tmp_path / name, **options)

    return make


@pytest.fixture
def score_config() -> Callable[..., ScoreConfig]:
    """``score_config(pool, output, *scorer_specs, **fields)``: a CPU ScoreConfig."""

    def build(
        pool: str | Path,
        output: str | Path,
        *scorers: str | dict[str, Any],
        source: SourceConfig | None = None,
        workers: int = 1,
        device: str = "cpu",
        **fields: Any,
    ) -> ScoreConfig:
        return ScoreConfig(
            pool=str(pool),
            output=str(output),
            scorers=tuple(ScorerSpec.parse(s) for s in scorers),
            source=source or SourceConfig(),
            compute=ComputeConfig(device=device),
            engine=EngineConfig(workers=workers),
            **fields,
        )

    return build


@pytest.fixture
def memfs() -> Iterator[tuple[fsspec.AbstractFileSystem, str]]:
    """fsspec's in-memory filesystem and a fresh root folder in it (removed afterwards)."""
    fs = fsspec.filesystem("memory")
    root = f"/pairsift-test-{uuid.uuid4().hex}"
    fs.mkdir(root)
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture
def restore_threads() -> Iterator[None]:
    """Tests that change torch's thread count get it back afterwards."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Any]:
    """A real S3 API (moto's server) on 127.0.0.1 for the session (:mod:`tests.s3_server`)."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    from tests.s3_server import S3Server

    server = S3Server.start()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """``(server, bucket)``: this process's fsspec pointed at the test server, and a fresh bucket."""
    with s3_server.configure(monkeypatch):
        yield s3_server, s3_server.new_bucket()
