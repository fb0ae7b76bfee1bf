"""Train the tiny copy detector on the tiny world's own copies, on CPU.

Each training scene is rendered twice (two renders of one scene: the same attributes, new textures,
tints and jitter); each render gets a copy made the way the world makes its ``near_duplicate`` samples
(:func:`pairsift.world.noise.perturb`: a shift of up to 2 px, a brightness scale, pixel noise), and all
four go through the pool's JPEG encoding. The loss is InfoNCE between renders and copies (temperature
``temperature``): a render's copy is its positive, every other copy in the batch a negative, the copy of
the other render of its scene the hardest one. SSCD (Pizzi et al. 2022) trains copy detectors the same
way, with augmentations that imitate the copies to be found.
"""

from __future__ import annotations

import io
import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pairsift.world.attributes import sample_scene
from pairsift.world.copydetect.model import MEAN, STD, CopyNet, build_model
from pairsift.world.copydetect.recipe import CopyTrainConfig
from pairsift.world.noise import perturb
from pairsift.world.pool import encode
from pairsift.world.render import render_scene

logger = logging.getLogger(__name__)

#: the random stream of the training scenes (apart from every world stream)
SCENE_STREAM = 7301


def roundtrip(image: Image.Image, quality: int) -> np.ndarray:
    """The image as the pool stores it: JPEG-encoded, then decoded (uint8 ``[H, W, 3]``)."""
    with Image.open(io.BytesIO(encode(image, "jpg", quality))) as im:
        return np.asarray(im.convert("RGB"))


def make_quads(scenes: int, seed: int, size: int, quality: int) -> np.ndarray:
    """``[scenes, 4, H, W, 3]`` uint8: render 1, its copy, render 2 of the same scene, its copy."""
    return _renders_and_copies(scenes, 2, seed, size, quality)


def make_pairs(scenes: int, seed: int, size: int, quality: int) -> np.ndarray:
    """``[scenes, 2, H, W, 3]`` uint8: one render of each scene and its copy (a pool without twins)."""
    return _renders_and_copies(scenes, 1, seed, size, quality)


def _renders_and_copies(scenes: int, renders: int, seed: int, size: int, quality: int) -> np.ndarray:
    rng = np.random.default_rng([seed, SCENE_STREAM])
    out = np.empty((scenes, 2 * renders, size, size, 3), np.uint8)
    for i in range(scenes):
        scene = sample_scene(rng)
        for j in range(0, 2 * renders, 2):
            render = render_scene(scene, size, rng)
            out[i, j] = roundtrip(render, quality)
            out[i, j + 1] = roundtrip(perturb(render, rng), quality)
    return out


def to_pixels(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[..., H, W, 3]`` -> normalised float ``[..., 3, H, W]`` (as :func:`build_preprocess`)."""
    x = torch.from_numpy(images).float().div_(255).movedim(-1, -3)
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return (x - mean) / std


def info_nce(model: CopyNet, quads: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE of renders against copies, over the ``2·B`` renders of a batch of scenes."""
    b = quads.shape[0]
    z = model(quads.reshape(b * 4, *quads.shape[2:])).view(b, 4, -1)
    renders = torch.cat([z[:, 0], z[:, 2]])
    copies = torch.cat([z[:, 1], z[:, 3]])
    logits = renders @ copies.T / temperature
    target = torch.arange(2 * b)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


@dataclass
class CopyTrainResult:
    model: CopyNet
    losses: list[float]
    seconds: float


def train(config: CopyTrainConfig) -> CopyTrainResult:
    """Train from scratch; deterministic for a seed and thread count."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    start = time.perf_counter()
    quads = to_pixels(make_quads(config.scenes, config.seed, config.image_size, config.jpeg_quality))
    logger.info("rendered %d training scenes in %.1fs", config.scenes, time.perf_counter() - start)
    model = build_model({**config.arch, "image_size": config.image_size}).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = config.scenes // config.batch_scenes
    total = steps_per_epoch * config.epochs
    warmup = max(1, total // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)),
    )
    generator = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    for epoch in range(config.epochs):
        order = torch.randperm(config.scenes, generator=generator)
        for step in range(steps_per_epoch):
            batch = quads[order[step * config.batch_scenes : (step + 1) * config.batch_scenes]]
            loss = info_nce(model, batch, config.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
        logger.info(
            "epoch %d/%d: loss %.4f", epoch + 1, config.epochs, float(np.mean(losses[-steps_per_epoch:]))
        )
    return CopyTrainResult(model.eval(), losses, time.perf_counter() - start)


def config_record(config: CopyTrainConfig) -> dict[str, Any]:
    return asdict(config)
