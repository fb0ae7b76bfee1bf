"""Train the tiny world captioner on clean renderings of the tiny world, on CPU.

Scenes are drawn uniformly and rendered exactly as the world's pool renders them (JPEG at the pool's
quality), so the captioner sees the pool's images. Each step pairs every image with a freshly drawn
caption template, prefixed by BLIP's prompt "a picture of "; as in BLIP, the prompt tokens carry no
loss. AdamW with linear warmup and cosine decay.

Two CPU speed-ups, neither of which changes the model or its saved weights: denormal floats are flushed
to zero while training (tiny gradients otherwise slow every matmul down by an order of magnitude), and
the vision attention runs through ``scaled_dot_product_attention`` on contiguous heads
(:class:`FastVisionAttention`, the same arithmetic as BLIP's eager attention, about 5x faster backward).
"""

from __future__ import annotations

import io
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers.models.blip.modeling_blip import BlipAttention

from pairsift.world import captions
from pairsift.world.attributes import Scene, sample_scene
from pairsift.world.captioner.model import MEAN, PROMPT, STD, VISION_CFG, build_model, build_processor
from pairsift.world.captioner.recipe import CaptionerTrainConfig
from pairsift.world.render import render_scene

logger = logging.getLogger(__name__)


@dataclass
class Scenes:
    """Rendered scenes: uint8 images ``[n, 3, H, W]`` and what each shows."""

    images: torch.Tensor
    scenes: list[Scene]


def render_scenes(n: int, size: int, seed: int, jpeg_quality: int) -> Scenes:
    """``n`` uniformly drawn clean scenes, rendered and passed through JPEG like the pool's images."""
    rng = np.random.default_rng([seed, 7])
    scenes = [sample_scene(rng) for _ in range(n)]
    arrays = []
    for scene in scenes:
        buffer = io.BytesIO()
        render_scene(scene, size, rng).save(buffer, format="JPEG", quality=jpeg_quality)
        arrays.append(np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")))
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return Scenes(images, scenes)


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[n, 3, H, W]`` -> float32, normalised as the processor does."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (images.to(torch.float32) / 255.0 - mean) / std


def caption_batch(
    scenes: list[Scene], rng: np.random.Generator, tokenizer: Any, bos: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids, attention mask and labels of "a picture of <caption>" for each scene.

    The first token becomes BLIP's decoder start token; padding and prompt tokens get label -100.
    """
    texts = [PROMPT + captions.render_caption(s, captions.choose_template(rng)) for s in scenes]
    encoded = tokenizer(texts, padding="longest", return_tensors="pt")
    ids = encoded.input_ids.clone()
    ids[:, 0] = bos
    labels = ids.masked_fill(encoded.attention_mask == 0, -100)
    prompt_length = len(tokenizer(PROMPT.strip()).input_ids) - 1  # [CLS] + prompt words, without [SEP]
    labels[:, :prompt_length] = -100
    return ids, encoded.attention_mask, labels


class FastVisionAttention(BlipAttention):
    """BLIP's vision self-attention computed with ``scaled_dot_product_attention`` (training only)."""

    def forward(self, hidden_states: torch.Tensor, **kwargs: Any) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        b, t, d = hidden_states.shape
        qkv = self.qkv(hidden_states).reshape(b, t, 3, self.num_heads, d // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).contiguous().unbind(0)
        p = self.dropout.p if self.training else 0.0
        context = F.scaled_dot_product_attention(q, k, v, dropout_p=p, scale=self.scale)
        return self.projection(context.transpose(1, 2).reshape(b, t, d)), None


def use_attention(model: Any, cls: type[BlipAttention]) -> None:
    """Switch the class of every vision attention module (weights and state stay as they are)."""
    for layer in model.vision_model.encoder.layers:
        layer.self_attn.__class__ = cls


def lr_at(step: int, config: CaptionerTrainConfig) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 0.5 * config.lr * (1 + math.cos(math.pi * progress))


@dataclass
class CaptionerTrainResult:
    model: Any  # BlipForConditionalGeneration
    processor: Any  # BlipProcessor
    record: dict[str, Any]


def train_captioner(config: CaptionerTrainConfig | None = None) -> CaptionerTrainResult:
    """Train a tiny BLIP captioner from scratch; deterministic for a seed as far as torch allows."""
    config = config or CaptionerTrainConfig()
    torch.set_flush_denormal(True)  # before any parallel op, so that the worker threads inherit it
    processor = build_processor()
    tokenizer = processor.tokenizer
    model = build_model(len(tokenizer), seed=config.seed)
    start = time.perf_counter()
    data = render_scenes(config.scenes, VISION_CFG["image_size"], config.seed, config.jpeg_quality)
    logger.info("rendered %d scenes in %.1fs", config.scenes, time.perf_counter() - start)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embeddings" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embeddings" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.98),
    )
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng([config.seed, 8])
    bos = model.config.text_config.bos_token_id
    losses: list[float] = []
    model.train()
    use_attention(model, FastVisionAttention)
    start = time.perf_counter()
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        idx = torch.randint(len(data.scenes), (config.batch_size,), generator=generator)
        ids, mask, labels = caption_batch([data.scenes[i] for i in idx.tolist()], rng, tokenizer, bos)
        out = model(
            pixel_values=normalise(data.images[idx]), input_ids=ids, attention_mask=mask, labels=labels
        )
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(out.loss.detach()))
        if (step + 1) % 50 == 0 or step + 1 == config.steps:
            recent = float(np.mean(losses[-50:]))
            logger.info(
                "step %d/%d  loss %.3f  %.0fs", step + 1, config.steps, recent, time.perf_counter() - start
            )
    model.eval()
    use_attention(model, BlipAttention)
    torch.set_flush_denormal(False)
    record = {
        **config.to_dict(),
        "seconds": round(time.perf_counter() - start, 1),
        "final_loss": float(np.mean(losses[-50:])) if losses else None,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return CaptionerTrainResult(model, processor, record)
