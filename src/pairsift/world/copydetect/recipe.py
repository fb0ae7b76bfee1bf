"""The copy detector's training settings and default architecture (imports no torch: the CLI reads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The architecture (:class:`~pairsift.world.copydetect.model.CopyNet`): channels of each 3x3 convolution
#: stage (each halves the side), the output width, the input side (images are resized to it), each image
#: standardised, a Gaussian low-pass of sigma 1 px before the first stride, and at inference the mean
#: embedding over shifts of -3, 0 and +3 px along each axis (9 views).
DEFAULT_ARCH: dict[str, Any] = {
    "channels": [48, 96, 144, 192],
    "dim": 128,
    "image_size": 64,
    "standardise": True,
    "blur": 1.0,
    "stem_stride": 2,
    "shifts": [3, 3],
}


@dataclass(frozen=True)
class CopyTrainConfig:
    scenes: int = 8000
    epochs: int = 10
    batch_scenes: int = 96  # 4 images per scene: two renders and their copies
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.02
    seed: int = 4242
    image_size: int = 64
    jpeg_quality: int = 90
    threads: int = 0  # torch threads (0: torch's default)
    arch: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ARCH))
