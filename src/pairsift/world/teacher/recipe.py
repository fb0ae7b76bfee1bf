"""The teacher's training settings (no torch import, so the CLI can show them cheaply)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``max_steps`` (if set) stops early, for tests."""

    epochs: int = 8
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_fraction: float = 0.05
    seed: int = 0
    max_steps: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
