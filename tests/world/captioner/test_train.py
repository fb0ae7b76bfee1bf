"""The tiny captioner's training: fast attention equals BLIP's, labels, a short real run, saving."""

import numpy as np
import pytest
import torch
from transformers.models.blip.modeling_blip import BlipAttention

from pairsift.device import Compute
from pairsift.models.captioners import load_captioner
from pairsift.world.captioner.build import save_captioner
from pairsift.world.captioner.model import PROMPT, build_model, build_processor, vocabulary
from pairsift.world.captioner.recipe import CaptionerTrainConfig
from pairsift.world.captioner.train import (
    FastVisionAttention,
    caption_batch,
    normalise,
    render_scenes,
    train_captioner,
    use_attention,
)


@pytest.fixture(scope="module")
def parts():
    processor = build_processor()
    return processor, build_model(len(processor.tokenizer)), render_scenes(16, 64, seed=3, jpeg_quality=90)


def test_vocabulary_covers_every_caption_word(parts):
    processor, _, data = parts
    rng = np.random.default_rng(0)
    ids, _, _ = caption_batch(data.scenes, rng, processor.tokenizer, bos=5)
    assert (ids != processor.tokenizer.unk_token_id).all()
    assert vocabulary()[:6] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]


def test_labels_skip_prompt_and_padding(parts):
    processor, model, data = parts
    bos = model.config.text_config.bos_token_id
    ids, mask, labels = caption_batch(data.scenes[:4], np.random.default_rng(1), processor.tokenizer, bos)
    assert (ids[:, 0] == bos).all()
    prompt = len(PROMPT.split()) + 1  # [DEC] and the prompt words
    assert (labels[:, :prompt] == -100).all()
    assert ((labels == -100) | (mask == 1)).all() and (labels[mask == 0] == -100).all()
    assert (labels[:, prompt] != -100).all()


def test_fast_attention_computes_the_same_loss(parts):
    processor, model, data = parts
    ids, mask, labels = caption_batch(data.scenes, np.random.default_rng(2), processor.tokenizer, 5)
    pixels = normalise(data.images)
    with torch.no_grad():
        stock = model(pixel_values=pixels, input_ids=ids, attention_mask=mask, labels=labels).loss
        use_attention(model, FastVisionAttention)
        fast = model(pixel_values=pixels, input_ids=ids, attention_mask=mask, labels=labels).loss
        use_attention(model, BlipAttention)
    torch.testing.assert_close(fast, stock, rtol=1e-5, atol=1e-6)


def test_a_short_run_learns_and_saves_a_loadable_checkpoint(tmp_path):
    config = CaptionerTrainConfig(scenes=32, steps=6, batch_size=8, warmup_steps=2, lr=3e-3)
    result = train_captioner(config)
    assert result.record["final_loss"] < 4.0 and result.record["parameters"] > 1_000_000
    assert type(result.model.vision_model.encoder.layers[0].self_attn) is BlipAttention
    save_captioner(result.model, result.processor, tmp_path / "c", result.record)
    loaded = load_captioner(str(tmp_path / "c"), Compute.resolve("cpu"))
    assert next(loaded.model.parameters()).dtype == torch.float32
    state = result.model.state_dict()
    for name, value in loaded.model.state_dict().items():  # float16 on disk: equal to half precision
        torch.testing.assert_close(value, state[name].half().float())


def test_train_and_save_writes_evaluates_and_installs(tmp_path, monkeypatch):
    from pairsift.world.captioner import build

    monkeypatch.setattr(build, "WEIGHTS_DIR", tmp_path / "installed")
    config = CaptionerTrainConfig(scenes=16, steps=2, batch_size=8, warmup_steps=1)
    result = build.train_and_save(tmp_path / "out", config, eval_scenes=4, install=True)
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"config.json", "model.safetensors", "training.json", "metrics.json", "tokenizer.json"} <= names
    assert result.metrics["scenes"] == 4 and set(result.metrics["greedy"]) >= {"colour_accuracy", "exact"}
    assert {p.name for p in (tmp_path / "installed").iterdir()} == names
