"""Train the tiny teacher: CLIP's InfoNCE loss on a web-like noisy world pool, on CPU.

The pool (default noise shares: mismatched, boilerplate, wrong-attribute, off-distribution and
near-duplicate pairs among the clean ones) is decoded once into memory; undecodable images are skipped,
as a web crawl's loader would. AdamW with linear warmup and a cosine schedule; a learnable logit scale.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import torch
from PIL import Image

from pairsift.io.tars import read_samples
from pairsift.world.teacher.model import build_model, build_tokenizer, default_config, tau_of
from pairsift.world.teacher.recipe import TrainConfig

logger = logging.getLogger(__name__)


@dataclass
class Corpus:
    """Decoded pool pairs: uint8 images ``[n, 3, H, W]`` and token ids ``[n, context_length]``."""

    images: torch.Tensor
    tokens: torch.Tensor
    skipped: int


def decode_image(data: bytes | None) -> np.ndarray | None:
    """An RGB uint8 ``[H, W, 3]`` array, or None when the bytes are not a decodable image."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def load_corpus(pool_dir: str | Path, tokenizer: Any, image_size: int) -> Corpus:
    """Every pool pair whose image decodes to ``image_size`` squared and whose caption is not empty."""
    images, captions, skipped = [], [], 0
    for tar in sorted(glob.glob(str(Path(pool_dir) / "*.tar"))):
        for sample in read_samples(tar):
            array = decode_image(sample.member("jpg") or sample.member("png"))
            caption = (sample.member("txt") or b"").decode("utf-8", errors="replace").strip()
            if array is None or not caption or array.shape[:2] != (image_size, image_size):
                skipped += 1
                continue
            images.append(array)
            captions.append(caption)
    if not images:
        raise ValueError(f"{pool_dir}: no decodable image-caption pairs in the pool tars")
    stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    logger.info("loaded %d pairs from %s (%d skipped)", len(images), pool_dir, skipped)
    return Corpus(stacked, tokenizer(captions), skipped)


def normalise(images: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 ``[n, 3, H, W]`` -> float32 normalised as open_clip's transform does."""
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (images.to(torch.float32) / 255.0 - m) / s


def lr_at(step: int, total: int, config: TrainConfig) -> float:
    """Linear warmup, then cosine decay to zero."""
    warmup = max(1, round(config.warmup_fraction * total))
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * config.lr * (1 + math.cos(math.pi * progress))


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "logit_scale" in name or "embedding" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _batches(n: int, batch: int, total: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """``total`` batches of indices: a fresh permutation per epoch, the last partial batch dropped."""
    step = 0
    while True:
        order = torch.randperm(n, generator=generator)
        for i in range(n // batch):
            if step == total:
                return
            yield order[i * batch : (i + 1) * batch]
            step += 1


@dataclass
class TrainResult:
    model: open_clip.CLIP
    config: dict[str, Any]  # the teacher config (model_cfg, mean, std, training)
    losses: list[float]  # per step
    seconds: float


def train(pool_dir: str | Path, train_config: TrainConfig | None = None) -> TrainResult:
    """Train a teacher on the pool tars in ``pool_dir``; deterministic for a seed as far as torch allows."""
    tc = train_config or TrainConfig()
    torch.manual_seed(tc.seed)
    config = default_config()
    model = build_model(config)
    tokenizer = build_tokenizer(config)
    corpus = load_corpus(pool_dir, tokenizer, config["model_cfg"]["vision_cfg"]["image_size"])
    n = len(corpus.tokens)
    batch = min(tc.batch_size, n)
    total = (n // batch) * tc.epochs
    if tc.max_steps is not None:
        total = min(total, tc.max_steps)
    optimizer = torch.optim.AdamW(
        _param_groups(model, tc.weight_decay), lr=tc.lr, betas=(0.9, 0.98), eps=1e-6
    )
    loss_fn = open_clip.loss.ClipLoss()
    generator = torch.Generator().manual_seed(tc.seed)
    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    logger.info("training on %d pairs: %d steps of %d (%d epochs)", n, total, batch, tc.epochs)
    for step, idx in enumerate(_batches(n, batch, total, generator)):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, total, tc)
        images = normalise(corpus.images[idx], config["mean"], config["std"])
        loss = loss_fn(*model(images, corpus.tokens[idx]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(float(loss.detach()))
        if (step + 1) % 20 == 0 or step + 1 == total:
            elapsed = time.perf_counter() - start
            logger.info(
                "step %d/%d  loss %.3f  tau %.4f  %.0fs", step + 1, total, losses[-1], tau_of(model), elapsed
            )
    model.eval()
    seconds = time.perf_counter() - start
    world = Path(pool_dir).parent / "world.json"
    config["training"] = {
        **tc.to_dict(),
        "pairs": n,
        "skipped": corpus.skipped,
        "steps": total,
        "seconds": round(seconds, 1),
        "final_loss": losses[-1] if losses else None,
        "world": json.loads(world.read_text()) if world.is_file() else None,
    }
    return TrainResult(model, config, losses, seconds)
