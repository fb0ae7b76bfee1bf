"""One local Ray for a test module: started here unless this process already has one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def local_ray(num_cpus: int = 2) -> Iterator[None]:
    """A fresh local Ray (``address="local"``: never a cluster another process started on this machine),
    shut down afterwards; a Ray this process already joined is used as it is."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'pairsift[ray]')")
    started = not ray.is_initialized()
    if started:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(
            address="local",
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        yield
    finally:
        if started:
            ray.shutdown()
