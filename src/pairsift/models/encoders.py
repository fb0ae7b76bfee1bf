"""The encoder interface: one model's own preprocessing, tokenizer and towers, with unit-norm outputs.

Backends register a loader in :data:`ENCODERS` under the ``backend`` of a :class:`ModelSpec`;
:func:`load_encoder` turns a model id into a ready encoder. Models load when this is called (in a
task's ``setup``), never at import time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from pairsift.device import Compute
from pairsift.models.ids import ENCODERS, ModelSpec, parse_model_id


class Encoder(ABC):
    """Image and text towers of one CLIP-style model on one device and precision.

    ``preprocess`` and ``tokenize`` are the model's own; ``encode_image``/``encode_text`` take their
    outputs (batched) and return L2-normalised float32 rows on the CPU. An image-only model (a copy
    detector) sets :attr:`has_text` to False: ``pairsift embed`` then writes only ``<family>_img``.
    """

    #: whether the model has a text tower
    has_text: bool = True

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.device = torch.device(device)
        self.dtype = dtype
        self.model = model.to(self.device, dtype).eval()

    @abstractmethod
    def transforms(self) -> tuple[Callable[[Image.Image], torch.Tensor], Callable[[list[str]], torch.Tensor]]:
        """``(preprocess, tokenize)`` as light picklable callables that do not hold the model
        (DataLoader workers run them)."""

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """One decoded image -> the model's input tensor ``(3, H, W)``."""
        return self.transforms()[0](image)

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """Captions -> token ids ``(n, context_length)``."""
        return self.transforms()[1](texts)

    def dims(self) -> tuple[int, int]:
        """``(image, text)`` embedding widths, from one probe through each tower (text 0 without one)."""
        image = self.encode_image(self.preprocess(Image.new("RGB", (64, 64)))[None])
        if not self.has_text:
            return int(image.shape[1]), 0
        text = self.encode_text(self.tokenize(["a photo"]))
        return int(image.shape[1]), int(text.shape[1])

    @abstractmethod
    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def _text_features(self, tokens: torch.Tensor) -> torch.Tensor: ...

    @torch.inference_mode()
    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        out = self._image_features(pixels.to(self.device, self.dtype, non_blocking=True))
        return F.normalize(out.float(), dim=-1).cpu()

    @torch.inference_mode()
    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        out = self._text_features(tokens.to(self.device, non_blocking=True))
        return F.normalize(out.float(), dim=-1).cpu()


def load_encoder(model_id: str | ModelSpec, compute: Compute | None = None) -> Encoder:
    """Load the model named by ``model_id`` onto ``compute``'s device, in its matmul precision."""
    spec = parse_model_id(model_id) if isinstance(model_id, str) else model_id
    return ENCODERS.get(spec.backend)(spec, compute or Compute.resolve("cpu"))


def pick(output: Any) -> torch.Tensor:
    """A features tensor out of a model output (transformers may return an output object)."""
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):
        return pooled
    raise TypeError(f"expected a tensor of features, got {type(output).__name__}")
