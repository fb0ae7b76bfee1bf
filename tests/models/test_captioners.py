"""The captioner interface on a tiny random BLIP: loading by directory, decoding settings, seeding."""

from pathlib import Path

import pytest
import torch

from pairsift.device import Compute
from pairsift.errors import ConfigError
from pairsift.models.caption_settings import CaptionSettings, batch_seed
from pairsift.models.captioners import load_captioner, resolve_captioner, strip_prompt
from tests.embed_data import image_bytes
from tests.models.tiny_blip import save_tiny_blip

CPU = Compute.resolve("cpu")


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory) -> Path:
    return save_tiny_blip(tmp_path_factory.mktemp("blip") / "tiny")


@pytest.fixture(scope="module")
def captioner(blip_dir):
    return load_captioner(str(blip_dir), CPU)


def pixels(captioner, n: int) -> torch.Tensor:
    import io

    from PIL import Image

    prep = captioner.preprocess()
    return torch.stack([prep(Image.open(io.BytesIO(image_bytes(i))).convert("RGB")) for i in range(n)])


def test_paper_defaults():
    s = CaptionSettings()
    assert (
        s.prompt,
        s.num_captions,
        s.top_p,
        s.min_length,
        s.max_length,
        s.repetition_penalty,
        s.sample,
    ) == (
        "a picture of ",
        8,
        0.9,
        5,
        20,
        1.1,
        True,
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"num_captions": 0},
        {"top_p": 0},
        {"top_p": 1.5},
        {"min_length": 9, "max_length": 5},
        {"repetition_penalty": 0},
        {"sample": False},
    ],
)
def test_bad_settings_are_refused(bad):
    with pytest.raises(ConfigError):
        CaptionSettings(**bad)


def test_captions_per_image_and_seeding(captioner):
    x = pixels(captioner, 3)
    settings = CaptionSettings(num_captions=4)
    first = captioner.caption(x, settings, seed=5)
    assert len(first) == 3 and all(len(c) == 4 for c in first)
    assert all(isinstance(t, str) for c in first for t in c)
    assert captioner.caption(x, settings, seed=5) == first
    assert captioner.caption(x, settings, seed=6) != first


def test_lengths_bound_the_decoded_tokens(captioner):
    x = pixels(captioner, 2)
    settings = CaptionSettings(num_captions=3, min_length=6, max_length=9)
    prompt_words = len(settings.prompt.split())
    for captions in captioner.caption(x, settings, seed=0):
        for text in captions:
            # [DEC] + prompt words + generated words; a random model never emits [SEP] before min_length
            assert (
                6 - 1 - prompt_words
                <= len(text.replace("-", " - ").replace(",", " , ").split())
                <= 9 - 1 - prompt_words
            )


def test_greedy_decoding_is_deterministic_without_a_seed(captioner):
    x = pixels(captioner, 2)
    settings = CaptionSettings(num_captions=1, sample=False)
    assert captioner.caption(x, settings, seed=0) == captioner.caption(x, settings, seed=99)


def test_strip_prompt():
    assert strip_prompt("a picture of a red circle", "a picture of ") == "a red circle"
    assert strip_prompt("  A Picture Of two stars ", "a picture of ") == "two stars"
    assert strip_prompt("a red circle", "a picture of ") == "a red circle"
    assert strip_prompt("a red circle", "") == "a red circle"


def test_batch_seed_depends_on_every_part():
    seeds = {batch_seed(0, "s", 0), batch_seed(1, "s", 0), batch_seed(0, "t", 0), batch_seed(0, "s", 1)}
    assert len(seeds) == 4 and all(0 <= s < 2**63 for s in seeds)


def test_ids(tmp_path, blip_dir):
    from pairsift.world.captioner import WEIGHTS_DIR

    assert resolve_captioner("pairsift:tiny-world-captioner") == str(WEIGHTS_DIR)
    assert resolve_captioner(f"hf:{blip_dir}") == str(blip_dir)
    assert (
        resolve_captioner("Salesforce/blip-image-captioning-base") == "Salesforce/blip-image-captioning-base"
    )
    with pytest.raises(ConfigError, match="no such shipped captioner"):
        resolve_captioner("pairsift:nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"no config\.json"):
        load_captioner(str(tmp_path / "empty"), CPU)


def test_unknown_architecture_is_named(tmp_path):
    import json

    from pairsift.registry import UnknownNameError

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(UnknownNameError, match="bert"):
        load_captioner(str(tmp_path / "m"), CPU)


def test_vision_encoder_decoder_models_load_and_caption(tmp_path):
    from transformers import (
        BertConfig,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    from pairsift.world.captioner.model import build_processor

    tokenizer = build_processor().tokenizer
    tiny = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}
    encoder = ViTConfig(image_size=32, patch_size=8, **tiny)
    decoder = BertConfig(vocab_size=len(tokenizer), is_decoder=True, add_cross_attention=True, **tiny)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.cls_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.sep_token_id
    torch.manual_seed(0)
    VisionEncoderDecoderModel(config=config).save_pretrained(tmp_path / "ved")
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path / "ved")
    tokenizer.save_pretrained(tmp_path / "ved")
    captioner = load_captioner(str(tmp_path / "ved"), CPU)
    assert type(captioner).__name__ == "EncoderDecoderCaptioner"
    captions = captioner.caption(pixels(captioner, 2), CaptionSettings(num_captions=3, max_length=8), seed=1)
    assert len(captions) == 2 and all(len(c) == 3 for c in captions)
