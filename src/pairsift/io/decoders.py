"""How many DataLoader decoding processes a raw-image stage runs (imports no torch: the CLI uses it)."""

from __future__ import annotations

from typing import Any

#: decoding processes beside a GPU model when ``num_workers`` is unset
GPU_DECODERS = 2


def decoding_workers(num_workers: int | None, device: Any) -> int:
    """``num_workers``, or when unset (automatic): none beside a CPU model (a ``torch.device``), whose
    threads already use every core (decoding processes then take cores from it: measured in
    docs/performance.md), and :data:`GPU_DECODERS` beside a GPU model, which leaves the cores to them."""
    if num_workers is not None:
        return num_workers
    return 0 if device.type == "cpu" else GPU_DECODERS


def reserved_decoders(num_workers: int | None, device: str) -> int:
    """The decoding processes a stage's engine worker reserves cores for, before its device is known:
    :func:`decoding_workers` for the configured device (``auto`` counts as a GPU)."""
    if num_workers is not None:
        return num_workers
    return 0 if device == "cpu" else GPU_DECODERS
