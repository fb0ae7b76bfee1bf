"""Train the copy detector, measure it on held-out scenes, choose its eps, write (and install) it.

The validation set is rendered like the training set but from another seed. Its figures: the cosine of
each render to its own copy (what SemDeDup must find) and to the nearest other image of the set, the
other render of its own scene included (what it must not remove). The recorded ``eps`` (SemDeDup removes
a sample whose cosine to a kept one exceeds 1 − eps) sits halfway between the 1st percentile of the first
and the 99th percentile of the second, both measured here, never on a pool being deduplicated.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pairsift.world.copydetect.model import CONFIG_NAME, PACKAGE_DIR, WEIGHTS_NAME, CopyNet, save
from pairsift.world.copydetect.train import CopyTrainConfig, make_quads, to_pixels, train

logger = logging.getLogger(__name__)


@torch.inference_mode()
def embed_quads(model: CopyNet, quads: np.ndarray, batch: int = 512) -> np.ndarray:
    """``[scenes, 4, dim]`` float64 embeddings of :func:`make_quads` images."""
    flat = quads.reshape(-1, *quads.shape[2:])
    parts = [model(to_pixels(flat[i : i + batch])).double().numpy() for i in range(0, len(flat), batch)]
    return np.concatenate(parts).reshape(quads.shape[0], 4, -1)


def validate(model: CopyNet, config: CopyTrainConfig, scenes: int) -> dict[str, Any]:
    """Copy-to-source and nearest-other cosines on ``scenes`` held-out scenes, and the eps they give."""
    quads = make_quads(scenes, config.seed + 1, config.image_size, config.jpeg_quality)
    z = embed_quads(model.eval(), quads)
    flat = z.reshape(-1, z.shape[-1])
    sims = flat @ flat.T
    n = len(flat)
    partner = np.arange(n) ^ 1  # 0<->1 (render 1 and its copy), 2<->3 (render 2 and its copy)
    copy = sims[np.arange(n), partner]
    sims[np.arange(n), np.arange(n)] = -np.inf
    sims[np.arange(n), partner] = -np.inf
    nearest_other = sims.max(axis=1)
    same_scene = (z[:, 0] * z[:, 2]).sum(axis=1)
    low, high = float(np.percentile(copy, 1)), float(np.percentile(nearest_other, 99))
    threshold = (low + high) / 2
    return {
        "scenes": scenes,
        "copy_cosine": _quantiles(copy),
        "nearest_other_cosine": _quantiles(nearest_other),
        "other_render_of_scene_cosine": _quantiles(same_scene),
        "eps": round(1 - threshold, 4),
        "copies_found_at_eps": round(float(np.mean(copy > threshold)), 4),
        "others_above_at_eps": round(float(np.mean(nearest_other > threshold)), 4),
    }


def _quantiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(values, q)), 4) for q in (1, 5, 50, 95, 99)}


def train_copy_detector(
    out_dir: str | Path,
    config: CopyTrainConfig | None = None,
    *,
    eval_scenes: int = 1000,
    install: bool = False,
) -> dict[str, Any]:
    """Train, validate, write ``tiny_copy.safetensors`` + ``config.json`` (arch, eps, metrics)."""
    config = config or CopyTrainConfig()
    result = train(config)
    metrics = validate(result.model, config, eval_scenes)
    metrics.update(
        train_seconds=round(result.seconds, 1),
        steps=len(result.losses),
        first_loss=round(result.losses[0], 4),
        final_loss=round(result.losses[-1], 4),
    )
    record = {
        "arch": {**config.arch, "image_size": config.image_size},
        "eps": metrics["eps"],
        "metrics": metrics,
        "training": asdict(config),
    }
    weights, _ = save(result.model, record, out_dir)
    metrics["weights_bytes"] = weights.stat().st_size
    logger.info("wrote %s (eps %.4f)", weights, metrics["eps"])
    if install:
        for name in (WEIGHTS_NAME, CONFIG_NAME):
            shutil.copyfile(Path(out_dir) / name, PACKAGE_DIR / name)
        logger.info("installed the copy detector into %s", PACKAGE_DIR)
    return metrics
