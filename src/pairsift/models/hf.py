"""transformers encoders (CLIP, SigLIP, anything with ``get_image_features``/``get_text_features``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from PIL import Image

from pairsift.device import Compute
from pairsift.models.encoders import Encoder, pick
from pairsift.models.ids import ENCODERS, ModelSpec


class HFEncoder(Encoder):
    """A transformers model with its own image processor and tokenizer.

    Captions are padded to the model's full context (``max_length``), as SigLIP was trained; CLIP
    pools at the end-of-text token, which causal attention keeps independent of the padding.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        image_processor: Any,
        tokenizer: Any,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(model, device=device, dtype=dtype)
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        config: Any = model.config
        self.context_length = int(config.text_config.max_position_embeddings)

    def transforms(self) -> tuple[Callable[[Image.Image], torch.Tensor], Callable[[list[str]], torch.Tensor]]:
        return partial(_pixels, self.image_processor), partial(_tokens, self.tokenizer, self.context_length)

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return pick(self.model.get_image_features(pixel_values=pixels))  # type: ignore[operator]

    def _text_features(self, tokens: torch.Tensor) -> torch.Tensor:
        return pick(self.model.get_text_features(input_ids=tokens))  # type: ignore[operator]


def _pixels(processor: Any, image: Image.Image) -> torch.Tensor:
    pixels: torch.Tensor = processor(images=image, return_tensors="pt")["pixel_values"][0]
    return pixels


def _tokens(tokenizer: Any, length: int, texts: list[str]) -> torch.Tensor:
    ids: torch.Tensor = tokenizer(
        texts, padding="max_length", truncation=True, max_length=length, return_tensors="pt"
    )["input_ids"]
    return ids


@ENCODERS.register("hf")
def load(spec: ModelSpec, compute: Compute) -> HFEncoder:
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(spec.name)
    processor = AutoImageProcessor.from_pretrained(spec.name)
    tokenizer = AutoTokenizer.from_pretrained(spec.name)
    return HFEncoder(model, processor, tokenizer, device=compute.device, dtype=compute.matmul_dtype)
