"""One local Ray for a test module: started here unless this process already has one; every Ray node the
tests start listens and advertises on loopback only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

#: the address of every Ray node a test starts (Ray's default is the address this machine would use to
#: reach the internet, found by ``node_ip_address_from_perspective``)
LOOPBACK = "127.0.0.1"


def ray_environment() -> None:
    """No token auth between the test's own processes, and no usage reporting (off unless a dashboard
    runs, which no test starts; explicit here)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def loopback_node(**args: Any) -> dict[str, Any]:
    """``Cluster`` node arguments with the node on :data:`LOOPBACK`. ``ray.init`` cannot do this: it
    turns a loopback ``_node_ip_address`` into this machine's address (``resolve_ip_for_localhost``), so
    the tests start their nodes with ``ray.cluster_utils.Cluster`` and connect to them by address."""
    return {"node_ip_address": LOOPBACK, "include_dashboard": False, **args}


def forget_address(address: str) -> None:
    """``Cluster`` writes its address where every ``ray.init()`` on this machine looks (for "auto"): remove
    it, so that no other Ray test, here or in another checkout, joins this cluster by accident (the
    driver here connects by address)."""
    from ray._private.utils import get_ray_address_file

    path = Path(get_ray_address_file(None))
    if path.exists() and path.read_text().strip() == address:
        path.unlink()


def node_addresses() -> list[str]:
    """The address each node of the connected Ray advertises (``NodeManagerAddress``)."""
    import ray

    return [node["NodeManagerAddress"] for node in ray.nodes()]


@contextmanager
def local_ray(num_cpus: int = 2, runtime_env: dict[str, Any] | None = None) -> Iterator[None]:
    """A fresh one-node Ray on loopback (never a cluster another process started on this machine), shut
    down afterwards, its driver's jobs with ``runtime_env``; a Ray this process already joined is used as
    it is."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'pairsift[ray]')")
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    cluster = None
    if not ray.is_initialized():
        ray_environment()
        cluster = cluster_utils.Cluster(initialize_head=True, head_node_args=loopback_node(num_cpus=num_cpus))
        forget_address(cluster.address)
        ray.init(
            address=cluster.address, log_to_driver=False, configure_logging=False, runtime_env=runtime_env
        )
        assert node_addresses() == [LOOPBACK], node_addresses()
    try:
        yield
    finally:
        if cluster is not None:
            ray.shutdown()
            cluster.shutdown()
