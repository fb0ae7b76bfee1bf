"""The tiny copy detector's network, preprocessing and weights file.

A small convolutional network over the whole image, pooled over positions (so a shift of a few pixels
moves its features, not its output), projected to ``dim`` and L2-normalised. Trained by
:mod:`pairsift.world.copydetect.train` to give a copy and its source nearly the same vector and two
renders of one scene different ones (the role of DataComp's ``dedup`` embedding model, for the tiny world).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from pairsift.world.weights import read_model_config, save_model_files

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_NAME = "tiny_copy.safetensors"
CONFIG_NAME = "config.json"

#: Per-channel normalisation of the [0, 1] pixels.
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


class CopyNet(nn.Module):
    """Convolutions, then mean- and max-pooling over positions, then a linear projection.

    With ``standardise``, each image is first brought to zero mean and unit standard deviation over all
    its pixels and channels (one scale per image, so a tint's hue survives and a brightness change does not).
    With ``blur`` (a Gaussian's sigma in pixels), it is then low-passed, so that a shift of a pixel or two
    changes a fine texture's phase, not the features a strided convolution samples from it; ``stem_stride``
    is the first convolution's stride. With ``shifts = (radius, step)``, radius > 0, an embedding at
    inference (eval mode) is the mean over the image moved by every offset in ``range(-radius, radius + 1,
    step)`` along each axis (edges replicated), renormalised: what a copy's small shift changes averages
    out. Training embeds each image once.
    """

    blur_kernel: torch.Tensor

    def __init__(
        self,
        channels: list[int],
        dim: int,
        image_size: int = 64,
        standardise: bool = False,
        blur: float = 0.0,
        stem_stride: int = 1,
        shifts: tuple[int, int] = (0, 1),
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = 3
        for i, out in enumerate(channels):
            stride = stem_stride if i == 0 else 2
            layers += [nn.Conv2d(width, out, 3, stride=stride, padding=1), nn.GELU()]
            width = out
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(2 * width, dim)
        self.image_size = image_size
        self.standardise = standardise
        self.shift_radius, self.shift_step = shifts
        self.register_buffer("blur_kernel", gaussian_kernel(blur), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unit embeddings ``[B, dim]`` of normalised pixels ``[B, 3, S, S]``; in eval mode with a shift
        radius, the normalised mean of the embeddings of the image moved by every offset of the grid."""
        radius, step = self.shift_radius, self.shift_step
        if self.training or radius == 0:
            return self.embed_one(pixels)
        side = pixels.shape[-1]
        padded = F.pad(pixels, (radius,) * 4, mode="replicate")
        offsets = range(0, 2 * radius + 1, step)
        total = sum(
            self.embed_one(padded[:, :, dy : dy + side, dx : dx + side]) for dy in offsets for dx in offsets
        )
        return F.normalize(torch.as_tensor(total), dim=-1)

    def embed_one(self, pixels: torch.Tensor) -> torch.Tensor:
        if self.standardise:  # each image to zero mean, unit std: a brightness scale changes nothing
            mean = pixels.mean(dim=(1, 2, 3), keepdim=True)
            std = pixels.std(dim=(1, 2, 3), keepdim=True)
            pixels = (pixels - mean) / (std + 1e-3)
        if self.blur_kernel.numel() > 1:  # a low-pass before the first stride: a shift moves less
            radius = self.blur_kernel.shape[-1] // 2
            padded = F.pad(pixels, (radius,) * 4, mode="replicate")
            pixels = F.conv2d(padded, self.blur_kernel.expand(3, 1, -1, -1), groups=3)
        maps = self.features(pixels)
        pooled = torch.cat([maps.mean(dim=(2, 3)), maps.amax(dim=(2, 3))], dim=1)
        return F.normalize(self.proj(pooled), dim=-1)


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """A normalised ``[1, 1, k, k]`` Gaussian of ``sigma`` px (radius ``ceil(2 sigma)``); ``[[1]]`` at 0."""
    if sigma <= 0:
        return torch.ones(1, 1, 1, 1)
    radius = max(1, math.ceil(2 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = torch.outer(g, g)
    return (g / g.sum()).view(1, 1, *g.shape)


def build_model(arch: dict[str, Any]) -> CopyNet:
    return CopyNet(
        list(arch["channels"]),
        int(arch["dim"]),
        int(arch["image_size"]),
        standardise=bool(arch.get("standardise", False)),
        blur=float(arch.get("blur", 0.0)),
        stem_stride=int(arch.get("stem_stride", 1)),
        shifts=shift_grid(arch.get("shifts", (0, 1))),
    ).eval()


def shift_grid(value: Any) -> tuple[int, int]:
    """``(radius, step)`` of the inference shift grid, or a ValueError naming what is wrong."""
    try:
        radius, step = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"copy detector arch 'shifts' must be [radius, step], got {value!r}") from None
    if radius < 0 or step < 1:
        raise ValueError(f"copy detector arch 'shifts' needs radius >= 0 and step >= 1, got {value!r}")
    return radius, step


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
    return read_model_config(
        Path(directory) / CONFIG_NAME, "copy detector", "train-copy-detector", ("arch",), "arch, eps, metrics"
    )


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
