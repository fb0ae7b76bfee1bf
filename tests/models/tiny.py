"""Tiny random models built in code (no downloads): open_clip and transformers CLIP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

TINY_OPEN_CLIP: dict[str, Any] = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def tiny_open_clip(seed: int = 0) -> Any:
    """``(model, preprocess, tokenizer)`` of a random tiny open_clip CLIP."""
    import open_clip

    torch.manual_seed(seed)
    model = open_clip.CLIP(**json.loads(json.dumps(TINY_OPEN_CLIP))).eval()
    preprocess = open_clip.image_transform(32, is_train=False)
    tokenizer = open_clip.SimpleTokenizer(context_length=16)
    return model, preprocess, tokenizer


def write_local_dir(directory: Path, seed: int = 0) -> Path:
    """An ``open_clip:local-dir:`` directory holding the tiny model (config JSON + safetensors)."""
    from safetensors.torch import save_file

    model, _, _ = tiny_open_clip(seed)
    directory.mkdir(parents=True, exist_ok=True)
    config = {"model_cfg": TINY_OPEN_CLIP, "preprocess_cfg": {"size": 32}}
    (directory / "open_clip_config.json").write_text(json.dumps(config))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "open_clip_model.safetensors"))
    return directory


HF_VOCAB = ["[PAD]", "[UNK]", "[EOS]", "a", "red", "blue", "green", "photo", "of", "square", "circle", "cat"]


def tiny_hf_clip(seed: int = 0) -> Any:
    """``(model, image_processor, tokenizer)`` of a random tiny transformers CLIP; nothing downloaded."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(HF_VOCAB)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()  # type: ignore[assignment]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]"
    )
    text = {
        "vocab_size": len(vocab),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "max_position_embeddings": 8,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 0,
    }
    vision = {
        "image_size": 32,
        "patch_size": 16,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
    }
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).eval()
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return model, processor, tokenizer
