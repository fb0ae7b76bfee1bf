"""Encoders return the model's own embeddings, unit-norm float32, through its own preprocessing."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pairsift.models.encoders import load_encoder
from pairsift.models.hf import HFEncoder
from pairsift.models.openclip import OpenClipEncoder
from pairsift.stages.embed import EmbedConfig, embed
from tests.embed_data import mixed_tar
from tests.models.tiny import TINY_OPEN_CLIP, tiny_hf_clip, tiny_open_clip, write_local_dir

IMAGES = [Image.new("RGB", (50, 40), "red"), Image.new("RGB", (20, 64), (10, 200, 30))]
TEXTS = ["a red square", "a green circle of a cat"]


def test_open_clip_encoder_equals_the_model() -> None:
    model, preprocess, tokenizer = tiny_open_clip(seed=1)
    encoder = OpenClipEncoder(model, preprocess, tokenizer)
    pixels = torch.stack([encoder.preprocess(im) for im in IMAGES])
    torch.testing.assert_close(pixels, torch.stack([preprocess(im) for im in IMAGES]))
    with torch.no_grad():
        want_img = model.encode_image(pixels, normalize=True)
        want_txt = model.encode_text(tokenizer(TEXTS), normalize=True)
    got_img, got_txt = encoder.encode_image(pixels), encoder.encode_text(encoder.tokenize(TEXTS))
    assert got_img.dtype == torch.float32 and got_img.shape == (2, 16)
    torch.testing.assert_close(got_img, want_img, atol=1e-5, rtol=0)
    torch.testing.assert_close(got_txt, want_txt, atol=1e-5, rtol=0)
    torch.testing.assert_close(got_img.norm(dim=1), torch.ones(2))
    assert encoder.dims() == (16, 16)


def test_open_clip_local_dir_and_checkpoint_ids_load_the_same_weights(tmp_path: Path) -> None:
    model, preprocess, tokenizer = tiny_open_clip(seed=2)
    directory = write_local_dir(tmp_path / "tiny", seed=2)
    encoder = load_encoder(f"open_clip:local-dir:{directory}")
    pixels = torch.stack([preprocess(im) for im in IMAGES])
    torch.testing.assert_close(encoder.preprocess(IMAGES[0]), pixels[0])
    with torch.no_grad():
        want = model.encode_image(pixels, normalize=True)
    torch.testing.assert_close(encoder.encode_image(pixels), want, atol=1e-5, rtol=0)
    torch.testing.assert_close(encoder.tokenize(TEXTS), tokenizer(TEXTS))
    preprocess_, tokenize_ = encoder.transforms()  # what DataLoader workers receive: no model inside
    assert len(pickle.dumps((preprocess_, tokenize_))) < 5_000_000


def test_hf_clip_encoder_equals_the_model() -> None:
    model, processor, tokenizer = tiny_hf_clip(seed=0)
    encoder = HFEncoder(model, processor, tokenizer)
    pixels = torch.stack([encoder.preprocess(im) for im in IMAGES])
    torch.testing.assert_close(pixels, processor(images=IMAGES, return_tensors="pt")["pixel_values"])
    tokens = encoder.tokenize(TEXTS)
    assert tokens.shape == (2, 8)
    with torch.no_grad():
        want_img = model.get_image_features(pixel_values=pixels)
        want_txt = model.get_text_features(input_ids=tokens)
    want_img = getattr(want_img, "pooler_output", want_img)
    want_txt = getattr(want_txt, "pooler_output", want_txt)
    torch.testing.assert_close(encoder.encode_image(pixels), torch.nn.functional.normalize(want_img, dim=-1))
    torch.testing.assert_close(encoder.encode_text(tokens), torch.nn.functional.normalize(want_txt, dim=-1))


def test_hf_encoder_embeds_a_shard_with_workers(tmp_path: Path) -> None:
    encoder = HFEncoder(*tiny_hf_clip(seed=0))
    mixed_tar(tmp_path / "in" / "s.tar")
    cfg = EmbedConfig(
        str(tmp_path / "in"),
        str(tmp_path / "pool"),
        "hf:tiny",
        device="cpu",
        num_workers=2,
        batch_size=4,
        dtype="float32",
        max_pixels=5000,
    )
    assert embed(cfg, encoder=encoder).statuses == {
        "corrupt_image": 1,
        "empty_caption": 1,
        "image_too_large": 1,
        "ok": 3,
    }
    with np.load(tmp_path / "pool" / "s.npz") as npz:
        img, txt = npz["tiny_img"], npz["tiny_txt"]
    np.testing.assert_allclose(np.linalg.norm(img[[0, 1, 3, 5]], axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(
        txt[0], encoder.encode_text(encoder.tokenize(["a red square"]))[0].numpy(), atol=1e-5
    )


def test_open_clip_arch_at_checkpoint(tmp_path: Path) -> None:
    import open_clip

    config = tmp_path / "pairsift-test-tiny.json"
    config.write_text(json.dumps(TINY_OPEN_CLIP))
    open_clip.add_model_config(config)  # registers the architecture "pairsift-test-tiny"
    directory = write_local_dir(tmp_path / "tiny", seed=4)
    encoder = load_encoder(f"open_clip:pairsift-test-tiny@{directory / 'open_clip_model.safetensors'}")
    model, preprocess, _ = tiny_open_clip(seed=4)
    pixels = preprocess(IMAGES[1])[None]
    with torch.no_grad():
        want = model.encode_image(pixels, normalize=True)
    torch.testing.assert_close(encoder.encode_image(pixels), want, atol=1e-5, rtol=0)
