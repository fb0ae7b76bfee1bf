"""One local Ray for a test module: started here unless this process already has one. Its node, like
every Ray node the tests start, is on loopback (``tests/conftest.py`` sets Ray's environment)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

#: the address of every Ray node a test starts
LOOPBACK = "127.0.0.1"


def node_addresses() -> list[str]:
    """The address each node of the connected Ray advertises (``NodeManagerAddress``)."""
    import ray

    return [node["NodeManagerAddress"] for node in ray.nodes()]


@contextmanager
def local_ray(num_cpus: int = 2) -> Iterator[None]:
    """A fresh local Ray (``address="local"``: never a cluster another process started on this machine),
    shut down afterwards; a Ray this process already joined is used as it is."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'pairsift[ray]')")
    started = not ray.is_initialized()
    if started:
        ray.init(
            address="local",
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        assert node_addresses() == [LOOPBACK], node_addresses()
    try:
        yield
    finally:
        if started:
            ray.shutdown()
