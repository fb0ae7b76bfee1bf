"""The tiny world's models, registered through the public registries (the ``pairsift.plugins`` entry point
``world`` names this module, so any process that asks for one of them imports it):

- ``pairsift:tiny-world``: the teacher CLIP (:mod:`pairsift.world.teacher`), an open_clip model;
- ``pairsift:tiny-copy``: the copy detector (:mod:`pairsift.world.copydetect`), image embeddings only;
- ``pairsift:tiny-world-captioner``: the tiny BLIP (:mod:`pairsift.world.captioner`);
- the embedding family ``tiny_world``, whose τ is the teacher's learned temperature;
- the open_clip model config ``pairsift-tiny-world`` (the teacher's architecture, untrained) for
  ``pairsift train --model``.

Importing this module imports no torch: the loaders import what they need when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pairsift.models.ids import ENCODERS, MODEL_IDS, SHIPPED_CAPTIONERS, TEMPERATURES, ModelIdError, ModelSpec
from pairsift.registry import Registry
from pairsift.stages.train import MODEL_CONFIGS

TEACHER_FAMILY = "tiny_world"

#: encoder models of the ``pairsift:`` prefix: name -> loader ``compute -> Encoder``
SHIPPED: Registry[Callable[[Any], Any]] = Registry("shipped model")


@MODEL_IDS.register("pairsift")
def parse(rest: str) -> ModelSpec:
    if rest not in SHIPPED.names():
        raise ModelIdError(f"pairsift:{rest}: no such shipped model; available: {', '.join(SHIPPED.names())}")
    return ModelSpec("pairsift", rest)


@ENCODERS.register("pairsift")
def load(spec: ModelSpec, compute: Any) -> Any:
    """A shipped model as an encoder on ``compute``'s device, in its matmul precision."""
    return SHIPPED.get(spec.name)(compute)


@SHIPPED.register("tiny-world")
def load_teacher_encoder(compute: Any) -> Any:
    """The teacher as an open_clip encoder."""
    from pairsift.models.openclip import OpenClipEncoder
    from pairsift.world.teacher import load_teacher

    model, preprocess, tokenizer = load_teacher(compute.device)
    model = model.to(compute.matmul_dtype)
    return OpenClipEncoder(model, preprocess, tokenizer, device=compute.device, dtype=compute.matmul_dtype)


@SHIPPED.register("tiny-copy")
def load_copy_encoder(compute: Any) -> Any:
    """The copy detector as an image-only encoder."""
    from pairsift.world.copydetect.encoder import CopyEncoder
    from pairsift.world.copydetect.model import load as load_copy

    model, preprocess = load_copy(compute.device)
    return CopyEncoder(model, preprocess, device=compute.device, dtype=compute.matmul_dtype)


@SHIPPED_CAPTIONERS.register("pairsift:tiny-world-captioner")
def captioner_directory() -> Path:
    from pairsift.world.captioner import WEIGHTS_DIR

    return WEIGHTS_DIR


@TEMPERATURES.register(TEACHER_FAMILY)
def teacher_temperature() -> float:
    from pairsift.world.teacher import teacher_tau

    return teacher_tau()


#: the student of ``pairsift train`` / ``pairsift world bench``: the teacher's architecture
STUDENT = "pairsift-tiny-world"


@MODEL_CONFIGS.register(STUDENT)
def student_config() -> dict[str, Any]:
    """The teacher's open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``)."""
    import json

    config: dict[str, Any] = json.loads((Path(__file__).parent / "teacher" / "config.json").read_text())
    return dict(config["model_cfg"])
