"""The tiny copy detector's network, preprocessing and weights file.

A small convolutional network over the whole image, pooled over positions (so a shift of a few pixels
moves its features, not its output), projected to ``dim`` and L2-normalised. Trained by
:mod:`pairsift.world.copydetect.train` to give a copy and its source nearly the same vector and two
renders of one scene different ones (the role of DataComp's ``dedup`` embedding model, for the tiny world).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from pairsift.world.weights import save_model_files

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_NAME = "tiny_copy.safetensors"
CONFIG_NAME = "config.json"

#: Per-channel normalisation of the [0, 1] pixels.
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


class CopyNet(nn.Module):
    """Convolutions, then mean- and max-pooling over positions, then a linear projection."""

    def __init__(self, channels: list[int], dim: int, image_size: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = 3
        for i, out in enumerate(channels):
            layers += [nn.Conv2d(width, out, 3, stride=1 if i == 0 else 2, padding=1), nn.GELU()]
            width = out
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(2 * width, dim)
        self.image_size = image_size

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        maps = self.features(pixels)
        pooled = torch.cat([maps.mean(dim=(2, 3)), maps.amax(dim=(2, 3))], dim=1)
        return F.normalize(self.proj(pooled), dim=-1)


def build_model(arch: dict[str, Any]) -> CopyNet:
    return CopyNet(list(arch["channels"]), int(arch["dim"]), int(arch["image_size"])).eval()


def build_preprocess(arch: dict[str, Any]) -> Any:
    """PIL image -> normalised ``(3, S, S)`` tensor: resize the shorter side to S, centre-crop, scale."""
    from torchvision import transforms

    size = int(arch["image_size"])
    return transforms.Compose(
        [
            transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(size),
            transforms.Lambda(_rgb),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )


def _rgb(image: Any) -> Any:
    return image.convert("RGB")


def save(model: CopyNet, config: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``tiny_copy.safetensors`` (float16) and ``config.json``, each atomically."""
    return save_model_files(model, config, out_dir, (WEIGHTS_NAME, CONFIG_NAME), "pairsift:tiny-copy")


def read_config(directory: str | Path = PACKAGE_DIR) -> dict[str, Any]:
    path = Path(directory) / CONFIG_NAME
    try:
        config: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: copy detector config not found (train one: pairsift world train-copy-detector)"
        ) from None
    if "arch" not in config:
        raise ValueError(f"{path}: copy detector config has no 'arch'; expected keys arch, eps, metrics")
    return config


def load(device: str | torch.device = "cpu", directory: str | Path = PACKAGE_DIR) -> tuple[CopyNet, Any]:
    """``(model, preprocess)`` of the copy detector in ``directory`` (default: the shipped one)."""
    config = read_config(directory)
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: copy detector weights not found (train them: pairsift world train-copy-detector)"
        )
    model = build_model(config["arch"])
    model.load_state_dict({k: v.to(torch.float32) for k, v in load_file(str(path)).items()}, strict=True)
    return model.to(device).eval(), build_preprocess(config["arch"])
