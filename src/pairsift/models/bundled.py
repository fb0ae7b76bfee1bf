"""Models shipped inside the package: ``pairsift:tiny-world``, the tiny world's teacher CLIP."""

from __future__ import annotations

from pairsift.compute import Compute
from pairsift.models.encoders import ENCODERS
from pairsift.models.ids import ModelSpec
from pairsift.models.openclip import OpenClipEncoder


@ENCODERS.register("pairsift")
def load(spec: ModelSpec, compute: Compute) -> OpenClipEncoder:
    from pairsift.teacher import load_teacher

    model, preprocess, tokenizer = load_teacher(compute.device)
    model = model.to(compute.matmul_dtype)
    return OpenClipEncoder(model, preprocess, tokenizer, device=compute.device, dtype=compute.matmul_dtype)
