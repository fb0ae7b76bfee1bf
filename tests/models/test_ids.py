"""Model ids parse in one place; families derive from them by one rule."""

from __future__ import annotations

import pytest

from pairsift.models.ids import ModelIdError, ModelSpec, family_of, parse_model_id
from pairsift.registry import UnknownNameError


@pytest.mark.parametrize(
    ("model_id", "backend", "name", "pretrained", "family"),
    [
        ("open_clip:ViT-L-14/openai", "open_clip", "ViT-L-14", "openai", "vit_l_14"),
        ("open_clip:ViT-B-32", "open_clip", "ViT-B-32", None, "vit_b_32"),
        (
            "open_clip:ViT-B-32@/ckpt/b32.safetensors",
            "open_clip",
            "ViT-B-32",
            "/ckpt/b32.safetensors",
            "vit_b_32",
        ),
        (
            "open_clip:hf-hub:timm/ViT-B-16-SigLIP",
            "open_clip",
            "hf-hub:timm/ViT-B-16-SigLIP",
            None,
            "vit_b_16_siglip",
        ),
        ("open_clip:local-dir:/models/tiny/", "open_clip", "local-dir:/models/tiny/", None, "tiny"),
        (
            "hf:openai/clip-vit-base-patch32",
            "hf",
            "openai/clip-vit-base-patch32",
            None,
            "clip_vit_base_patch32",
        ),
        ("hf:/models/My CLIP", "hf", "/models/My CLIP", None, "my_clip"),
    ],
)
def test_ids(model_id: str, backend: str, name: str, pretrained: str | None, family: str) -> None:
    spec = parse_model_id(model_id)
    assert spec == ModelSpec(backend, name, pretrained, model_id)
    assert spec.family == family_of(spec) == family


def test_unknown_prefix_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="available: hf, open_clip"):
        parse_model_id("clip:ViT-B-32")


@pytest.mark.parametrize("model_id", ["ViT-B-32", "open_clip:", "open_clip:@x", "open_clip:hf-hub:", "hf:"])
def test_malformed_ids(model_id: str) -> None:
    with pytest.raises(ModelIdError):
        parse_model_id(model_id)
