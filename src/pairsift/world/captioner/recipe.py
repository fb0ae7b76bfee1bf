"""The captioner's training settings (no torch import, so the CLI can show them cheaply)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CaptionerTrainConfig:
    """How to train. The defaults made the shipped checkpoint."""

    scenes: int = 20000
    steps: int = 2400
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 150
    jpeg_quality: int = 90
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
