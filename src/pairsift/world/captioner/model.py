"""The tiny world captioner's architecture: a small configuration of Hugging Face BLIP.

Everything is a stock ``transformers`` component (``BlipForConditionalGeneration``, ``BlipProcessor``
with a ``BertTokenizerFast``), so the shipped directory loads like any BLIP checkpoint. Only the sizes
are small: a 3-layer ViT over 8x8 patches of 64x64 images, a 3-layer text decoder with cross-attention,
and a word-level vocabulary of the world's caption words (a BERT WordPiece tokenizer whose vocabulary
holds whole words), which keeps the embedding tables, and so the file, tiny.
"""

from __future__ import annotations

import itertools
from typing import Any

from pairsift.world import captions
from pairsift.world.attributes import VALUES, Scene

#: BERT's special tokens, then BLIP's decoder start token.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]")
PROMPT = "a picture of "

#: Sizes of the architecture (``BlipConfig`` keyword arguments).
VISION_CFG: dict[str, Any] = {
    "image_size": 64,
    "patch_size": 8,
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "projection_dim": 128,
}
TEXT_CFG: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "encoder_hidden_size": 128,
    "max_position_embeddings": 40,
}
#: OpenAI CLIP's normalisation statistics, as BLIP uses.
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def world_words() -> list[str]:
    """Every word (BERT pre-tokenised) of every clean caption the world can write, sorted.

    Each template is filled with every shape at every count (nouns are singular or plural) while the
    other attributes cycle through all their values, which reaches every word of every phrase.
    """
    from tokenizers.pre_tokenizers import BertPreTokenizer

    pre = BertPreTokenizer()
    words = {w for w, _ in pre.pre_tokenize_str(PROMPT)}
    cycle = max(len(VALUES[a]) for a in ("colour", "size", "position", "background"))
    for template, shape, count, i in itertools.product(
        captions.TEMPLATES, VALUES["shape"], VALUES["count"], range(cycle)
    ):
        pick = {a: VALUES[a][i % len(VALUES[a])] for a in ("colour", "size", "position", "background")}
        scene = Scene(shape=shape, count=count, **pick)
        words.update(w for w, _ in pre.pre_tokenize_str(captions.render_caption(scene, template).lower()))
    return sorted(words)


def vocabulary() -> list[str]:
    """The tokenizer vocabulary: special tokens, then the world's words."""
    return [*SPECIAL_TOKENS, *world_words()]


def blip_config(vocab_size: int) -> Any:
    """A ``BlipConfig`` of the tiny architecture for a vocabulary of ``vocab_size`` tokens."""
    from transformers import BlipConfig

    ids = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    text = {
        **TEXT_CFG,
        "vocab_size": vocab_size,
        "pad_token_id": ids["[PAD]"],
        "bos_token_id": ids["[DEC]"],
        "eos_token_id": ids["[SEP]"],
        "sep_token_id": ids["[SEP]"],
    }
    return BlipConfig(vision_config=dict(VISION_CFG), text_config=text, projection_dim=128)


def build_processor() -> Any:
    """A ``BlipProcessor`` for 64x64 images and the world vocabulary."""
    from transformers import BertTokenizer, BlipImageProcessor, BlipProcessor

    vocab = {token: i for i, token in enumerate(vocabulary())}
    tokenizer = BertTokenizer(
        vocab=vocab,
        do_lower_case=True,
        bos_token="[DEC]",
        model_max_length=TEXT_CFG["max_position_embeddings"],
    )
    size = VISION_CFG["image_size"]
    images = BlipImageProcessor(
        size={"height": size, "width": size}, image_mean=list(MEAN), image_std=list(STD)
    )
    return BlipProcessor(image_processor=images, tokenizer=tokenizer)


def build_model(vocab_size: int, seed: int = 0) -> Any:
    """A randomly initialised tiny BLIP captioner (float32, eval mode)."""
    import torch
    from transformers import BlipForConditionalGeneration

    torch.manual_seed(seed)
    return BlipForConditionalGeneration(blip_config(vocab_size)).eval()
