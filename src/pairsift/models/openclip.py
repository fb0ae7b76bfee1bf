"""open_clip encoders: ``open_clip.create_model_and_transforms`` and ``open_clip.get_tokenizer``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from pairsift.device import Compute
from pairsift.models.encoders import Encoder
from pairsift.models.ids import ENCODERS, ModelSpec

logger = logging.getLogger(__name__)


class OpenClipEncoder(Encoder):
    """An open_clip model with its eval transform and tokenizer (build from objects, or :func:`load`)."""

    def __init__(
        self,
        model: torch.nn.Module,
        preprocess: Callable[[Image.Image], torch.Tensor],
        tokenizer: Callable[[list[str]], torch.Tensor],
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(model, device=device, dtype=dtype)
        self._preprocess = preprocess
        self._tokenizer = tokenizer

    def transforms(self) -> tuple[Callable[[Image.Image], torch.Tensor], Callable[[list[str]], torch.Tensor]]:
        return self._preprocess, self._tokenizer

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        out: Any = self.model.encode_image(pixels)  # type: ignore[operator]
        return out

    def _text_features(self, tokens: torch.Tensor) -> torch.Tensor:
        out: Any = self.model.encode_text(tokens)  # type: ignore[operator]
        return out


@ENCODERS.register("open_clip")
def load(spec: ModelSpec, compute: Compute) -> OpenClipEncoder:
    import open_clip

    if spec.pretrained is None and not spec.name.startswith(("hf-hub:", "local-dir:")):
        logger.warning("%s: no pretrained tag or checkpoint; the model has random weights", spec.model_id)
    model, _, preprocess = open_clip.create_model_and_transforms(
        spec.name, pretrained=spec.pretrained, device=compute.device
    )
    tokenizer = open_clip.get_tokenizer(spec.name)
    return OpenClipEncoder(model, preprocess, tokenizer, device=compute.device, dtype=compute.matmul_dtype)
