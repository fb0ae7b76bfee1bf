"""The copy detector's training settings and default architecture (imports no torch: the CLI reads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The architecture: channels of each 3x3 convolution stage (each halves the side but the first), the
#: output width, and the input side (images are resized to it).
DEFAULT_ARCH: dict[str, Any] = {"channels": [32, 64, 96, 128], "dim": 128, "image_size": 64}


@dataclass(frozen=True)
class CopyTrainConfig:
    scenes: int = 6000
    epochs: int = 6
    batch_scenes: int = 64  # 4 images per scene: two renders and their copies
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.05
    seed: int = 4242
    image_size: int = 64
    jpeg_quality: int = 90
    threads: int = 0  # torch threads (0: torch's default)
    arch: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ARCH))
