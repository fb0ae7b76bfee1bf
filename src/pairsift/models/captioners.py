"""Image captioners for SIEVE: a small interface and its Hugging Face transformers implementation.

Captioner ids:

| id | meaning |
|---|---|
| ``Salesforce/blip-image-captioning-base`` (default) | any BLIP or vision-encoder-decoder repo on the hub |
| ``/path/to/dir`` | a ``save_pretrained`` directory of such a model (with its processor files) |
| ``pairsift:<name>`` | a captioner shipped by a plugin, e.g. ``pairsift:tiny-world-captioner`` |

An ``hf:`` prefix is accepted and ignored. The architecture is read from the model's ``config.json``
(``model_type``) and looked up in :data:`ARCHITECTURES`; a new one is one entry there. Shipped
captioners are :data:`SHIPPED_CAPTIONERS` entries: id -> the directory that holds the weights.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from pairsift.device import Compute
from pairsift.errors import ConfigError
from pairsift.models.caption_settings import DEFAULT_CAPTIONER, CaptionSettings, batch_seed
from pairsift.models.ids import SHIPPED_CAPTIONERS
from pairsift.registry import Registry


class Captioner(ABC):
    """Writes captions for preprocessed images. Picklable preprocessing runs in DataLoader workers."""

    def __init__(self, model: torch.nn.Module, *, device: torch.device, dtype: torch.dtype) -> None:
        self.model = model.to(device=device, dtype=dtype).eval()
        self.device = device
        self.dtype = dtype

    @abstractmethod
    def preprocess(self) -> Callable[[Image.Image], torch.Tensor]:
        """A picklable function from an RGB image to the model's pixel tensor."""

    @abstractmethod
    def _generate(self, pixels: torch.Tensor, settings: CaptionSettings) -> list[str]:
        """Decoded texts, ``settings.num_captions`` per image, image-major."""

    @torch.inference_mode()
    def caption(self, pixels: torch.Tensor, settings: CaptionSettings, *, seed: int) -> list[list[str]]:
        """``num_captions`` captions per image, prompt stripped; the same seed gives the same captions."""
        torch.manual_seed(seed)
        pixels = pixels.to(device=self.device, dtype=self.dtype, non_blocking=True)
        texts = [strip_prompt(t, settings.prompt) for t in self._generate(pixels, settings)]
        n = settings.num_captions
        return [texts[i : i + n] for i in range(0, len(texts), n)]


__all__ = [
    "DEFAULT_CAPTIONER",
    "CaptionSettings",
    "Captioner",
    "batch_seed",
    "load_captioner",
    "strip_prompt",
]


def strip_prompt(text: str, prompt: str) -> str:
    """``"a picture of a dog"`` -> ``"a dog"`` (case-insensitive; surrounding whitespace removed)."""
    text = text.strip()
    head = prompt.strip()
    if head and text.lower().startswith(head.lower()):
        text = text[len(head) :]
    return text.strip()


def _generate_kwargs(settings: CaptionSettings) -> dict[str, Any]:
    common: dict[str, Any] = {
        "min_length": settings.min_length,
        "max_length": settings.max_length,
        "repetition_penalty": settings.repetition_penalty,
        "num_return_sequences": settings.num_captions,
    }
    if settings.sample:
        return {**common, "do_sample": True, "top_p": settings.top_p, "top_k": 0}
    return {**common, "do_sample": False, "num_beams": 1}


def _pixels(processor: Any, image: Image.Image) -> torch.Tensor:
    pixels: torch.Tensor = processor(images=image, return_tensors="pt")["pixel_values"][0]
    return pixels


class BlipCaptioner(Captioner):
    """``BlipForConditionalGeneration``: decoding starts from the prompt, as in BLIP and SIEVE."""

    def __init__(self, model: torch.nn.Module, processor: Any, **kw: Any) -> None:
        super().__init__(model, **kw)
        self.processor = processor

    def preprocess(self) -> Callable[[Image.Image], torch.Tensor]:
        return partial(_pixels, self.processor.image_processor)

    def _generate(self, pixels: torch.Tensor, settings: CaptionSettings) -> list[str]:
        kwargs = _generate_kwargs(settings)
        if settings.prompt.strip():
            prompt = self.processor.tokenizer(settings.prompt.strip(), return_tensors="pt")
            kwargs["input_ids"] = prompt.input_ids.to(self.device).repeat(len(pixels), 1)
            kwargs["attention_mask"] = prompt.attention_mask.to(self.device).repeat(len(pixels), 1)
        out = self.model.generate(pixel_values=pixels, **kwargs)  # type: ignore[operator]
        texts: list[str] = self.processor.tokenizer.batch_decode(out, skip_special_tokens=True)
        return texts


class EncoderDecoderCaptioner(Captioner):
    """``VisionEncoderDecoderModel`` (e.g. ViT-GPT2): decodes unprompted; a prompt is only stripped."""

    def __init__(self, model: torch.nn.Module, image_processor: Any, tokenizer: Any, **kw: Any) -> None:
        super().__init__(model, **kw)
        self.image_processor = image_processor
        self.tokenizer = tokenizer

    def preprocess(self) -> Callable[[Image.Image], torch.Tensor]:
        return partial(_pixels, self.image_processor)

    def _generate(self, pixels: torch.Tensor, settings: CaptionSettings) -> list[str]:
        out = self.model.generate(pixel_values=pixels, **_generate_kwargs(settings))  # type: ignore[operator]
        texts: list[str] = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        return texts


ARCHITECTURES: Registry[Callable[[str, Compute], Captioner]] = Registry("captioner architecture")


@ARCHITECTURES.register("blip")
def _load_blip(source: str, compute: Compute) -> Captioner:
    from transformers import BlipForConditionalGeneration, BlipProcessor

    model = BlipForConditionalGeneration.from_pretrained(source, dtype=torch.float32)
    processor = BlipProcessor.from_pretrained(source)
    return BlipCaptioner(model, processor, device=compute.device, dtype=compute.matmul_dtype)


@ARCHITECTURES.register("vision-encoder-decoder")
def _load_encoder_decoder(source: str, compute: Compute) -> Captioner:
    from transformers import AutoImageProcessor, AutoTokenizer, VisionEncoderDecoderModel

    model = VisionEncoderDecoderModel.from_pretrained(source, dtype=torch.float32)
    processor = AutoImageProcessor.from_pretrained(source)
    tokenizer = AutoTokenizer.from_pretrained(source)
    return EncoderDecoderCaptioner(
        model, processor, tokenizer, device=compute.device, dtype=compute.matmul_dtype
    )


def resolve_captioner(model_id: str) -> str:
    """Where ``from_pretrained`` loads the captioner from: a directory or a hub repo id."""
    name = model_id.removeprefix("hf:").strip()
    if not name:
        raise ConfigError(
            "empty captioner id; expected a hub repo id, a directory or pairsift:tiny-world-captioner"
        )
    if name.startswith("pairsift:"):
        if name not in SHIPPED_CAPTIONERS:
            shipped = ", ".join(SHIPPED_CAPTIONERS.names()) or "none"
            raise ConfigError(f"{name}: no such shipped captioner; available: {shipped}")
        directory = SHIPPED_CAPTIONERS.get(name)()
        if not (directory / "config.json").is_file():
            raise ConfigError(f"{name}: the shipped weights are missing from {directory}; reinstall pairsift")
        return str(directory)
    return name


def load_captioner(model_id: str, compute: Compute) -> Captioner:
    """Load a captioner by id (see the module docstring) onto ``compute``'s device and precision."""
    from transformers import AutoConfig
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    source = resolve_captioner(model_id)
    if Path(source).exists() and not (Path(source) / "config.json").is_file():
        raise ConfigError(
            f"captioner {model_id}: {source} has no config.json (not a save_pretrained directory)"
        )
    try:
        model_type = AutoConfig.from_pretrained(source).model_type
    except OSError as exc:
        raise ConfigError(f"captioner {model_id}: cannot load its config: {exc}") from exc
    return ARCHITECTURES.get(model_type)(source, compute)
