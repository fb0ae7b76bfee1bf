"""The copy detector as an image-only :class:`~pairsift.models.encoders.Encoder`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from pairsift.errors import ConfigError
from pairsift.models.encoders import Encoder


def no_text(texts: list[str]) -> torch.Tensor:
    raise ConfigError("the copy detector (pairsift:tiny-copy) embeds images only; it has no text tower")


class CopyEncoder(Encoder):
    """Image embeddings for near-duplicate search; ``pairsift embed`` writes only ``<family>_img``."""

    has_text = False

    def __init__(self, model: torch.nn.Module, preprocess: Any, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self._preprocess = preprocess

    def transforms(self) -> tuple[Callable[[Image.Image], torch.Tensor], Callable[[list[str]], torch.Tensor]]:
        return self._preprocess, no_text

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(pixels)
        return out

    def _text_features(self, tokens: torch.Tensor) -> torch.Tensor:
        return no_text([])
