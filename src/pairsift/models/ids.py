"""Model ids: every user-facing model string is parsed here, through a registry of id prefixes.

| id | meaning |
|---|---|
| ``open_clip:<arch>/<pretrained tag>`` | an open_clip architecture with a published tag (downloads) |
| ``open_clip:<arch>`` | the architecture with random weights (benchmarks, tests) |
| ``open_clip:<arch>@<checkpoint file>`` | the architecture with weights from a local checkpoint |
| ``open_clip:hf-hub:<org/repo>`` | an open_clip model on the Hugging Face hub |
| ``open_clip:local-dir:<dir>`` | a directory with ``open_clip_config.json`` and weights |
| ``hf:<org/repo or dir>`` | a transformers CLIP or SigLIP model (``AutoModel``) |
| ``pairsift:tiny-world`` | the tiny world's teacher CLIP (registered by the world plugin) |
| ``pairsift:tiny-copy`` | the tiny world's copy detector, image embeddings only (the world plugin) |

A new kind of id is one :data:`MODEL_IDS` entry: a function from the text after ``<prefix>:`` to a
:class:`ModelSpec` (and, for a new backend, one :data:`~pairsift.models.encoders.ENCODERS` loader).
:data:`TEMPERATURES` holds the learned temperature of the teachers whose embedding family is known,
the default τ of negCLIPLoss.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairsift.registry import Registry


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model id: which backend loads it and from where."""

    backend: str  #: ``open_clip`` or ``hf``: the key of the encoder loader
    name: str  #: open_clip architecture / ``hf-hub:…`` / ``local-dir:…``, or a transformers repo or dir
    pretrained: str | None = None  #: an open_clip pretrained tag or checkpoint file
    model_id: str = ""  #: the id as the user wrote it

    @property
    def family(self) -> str:
        """The default npz key prefix: see :func:`family_of`."""
        return family_of(self)


MODEL_IDS: Registry[Callable[[str], ModelSpec]] = Registry("model id prefix")

#: backend name -> loader ``(spec, compute) -> Encoder`` (:mod:`pairsift.models.encoders`); each backend
#: module registers its own. Here, beside the ids, so that registering a model never imports torch.
ENCODERS: Registry[Callable[[ModelSpec, Any], Any]] = Registry(
    "model backend", modules=("pairsift.models.openclip", "pairsift.models.hf")
)

#: ``pairsift:<name>`` captioner id -> a function returning its ``save_pretrained`` directory
#: (:func:`pairsift.models.captioners.resolve_captioner`)
SHIPPED_CAPTIONERS: Registry[Callable[[], Path]] = Registry("shipped captioner")

#: embedding family -> its teacher's learned temperature τ = 1 / logit scale (a function: it may read a file)
TEMPERATURES: Registry[Callable[[], float]] = Registry("embedding family")


@TEMPERATURES.register("l14")
@TEMPERATURES.register("b32")
def _openai_clip_tau() -> float:
    """OpenAI CLIP ViT-L/14 and ViT-B/32 (DataComp's families): learned logit scale 100."""
    return 0.01


class ModelIdError(ValueError):
    """A model id that cannot be parsed; the message says what was expected."""


@MODEL_IDS.register("open_clip")
def _open_clip(rest: str) -> ModelSpec:
    if rest.startswith(("hf-hub:", "local-dir:")):
        if not rest.split(":", 1)[1]:
            raise ModelIdError(f"open_clip:{rest}: nothing after {rest.split(':', 1)[0]}:")
        return ModelSpec("open_clip", rest)
    if "@" in rest:
        arch, _, checkpoint = rest.partition("@")
        if not arch or not checkpoint:
            raise ModelIdError(f"open_clip:{rest}: expected open_clip:<arch>@<checkpoint file>")
        return ModelSpec("open_clip", arch, checkpoint)
    arch, _, tag = rest.partition("/")
    if not arch:
        raise ModelIdError(f"open_clip:{rest}: expected open_clip:<arch>/<pretrained tag>")
    return ModelSpec("open_clip", arch, tag or None)


@MODEL_IDS.register("hf")
def _hf(rest: str) -> ModelSpec:
    if not rest:
        raise ModelIdError("hf: expected hf:<org/repo> or hf:<local directory>")
    return ModelSpec("hf", rest)


def parse_model_id(model_id: str) -> ModelSpec:
    """``"open_clip:ViT-B-32/openai"`` -> ``ModelSpec("open_clip", "ViT-B-32", "openai")``."""
    prefix, sep, rest = model_id.partition(":")
    if not sep:
        raise ModelIdError(
            f"model id {model_id!r} has no prefix; expected <prefix>:<name> with a prefix among "
            f"{', '.join(MODEL_IDS.names())} (e.g. open_clip:ViT-B-32/openai)"
        )
    spec = MODEL_IDS.get(prefix)(rest.strip())
    return ModelSpec(spec.backend, spec.name, spec.pretrained, model_id)


def family_of(spec: ModelSpec) -> str:
    """Default npz key prefix: the architecture (open_clip) or the last path part of the repo or
    directory, lower-cased, each run of characters other than ``a-z0-9`` turned into one ``_``:
    ``open_clip:ViT-B-32/openai`` -> ``vit_b_32``; ``hf:openai/clip-vit-base-patch32`` ->
    ``clip_vit_base_patch32``; ``open_clip:hf-hub:timm/ViT-B-16-SigLIP`` -> ``vit_b_16_siglip``."""
    name = spec.name.split(":", 1)[1] if spec.name.startswith(("hf-hub:", "local-dir:")) else spec.name
    last = name.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    family = re.sub(r"[^a-z0-9]+", "_", last.lower()).strip("_")
    if not family:
        raise ModelIdError(f"cannot derive an embedding family from {spec.model_id!r}; pass --family")
    return family
