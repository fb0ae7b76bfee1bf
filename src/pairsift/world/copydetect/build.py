"""Train the copy detector, measure it on held-out scenes, choose its eps, write (and install) it.

The validation sets are rendered like the training set but from other seeds (:func:`validate`): the
cosine of each render to its own copy (what SemDeDup must find) and to other images (what it must not
remove). The recorded ``eps`` (SemDeDup removes a sample whose cosine to an earlier one exceeds 1 − eps)
is the one at which SemDeDup would remove 0.5 % of a held-out pool without copies, measured here, never
on a pool being deduplicated.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pairsift.scorers.semdedup import earlier_max
from pairsift.world.copydetect.model import CONFIG_NAME, PACKAGE_DIR, WEIGHTS_NAME, CopyNet, save
from pairsift.world.copydetect.train import CopyTrainConfig, make_pairs, make_quads, to_pixels, train

logger = logging.getLogger(__name__)


#: the share of a held-out pool without copies that SemDeDup may remove at the recorded eps
FALSE_REMOVAL_BUDGET = 0.005


@torch.inference_mode()
def embed_images(model: CopyNet, images: np.ndarray, batch: int = 512) -> np.ndarray:
    """``[..., dim]`` float64 embeddings of uint8 images ``[..., H, W, 3]``."""
    flat = images.reshape(-1, *images.shape[-3:])
    parts = [model(to_pixels(flat[i : i + batch])).double().numpy() for i in range(0, len(flat), batch)]
    return np.concatenate(parts).reshape(*images.shape[:-3], -1)


def validate(model: CopyNet, config: CopyTrainConfig, scenes: int, pool_scenes: int = 5000) -> dict[str, Any]:
    """Figures on held-out scenes of two other seeds, and the eps they give.

    - ``scenes`` scenes rendered twice, each render with its copy: the cosine of a render to its copy,
      to the other render of its scene, and to the nearest other image of the set;
    - a pool without copies, ``pool_scenes`` scenes rendered once (the world's pool size by default),
      each render also copied once: the cosine of each render to its copy and to its nearest other
      render, and SemDeDup's M over the renders alone (one cluster, :func:`one_cluster_m`). The recorded
      eps is the one at which SemDeDup removes :data:`FALSE_REMOVAL_BUDGET` of that copy-free pool
      (1 − that upper quantile of M); ``copies_found_at_eps`` is the share of copies above 1 − eps.
    """
    model.eval()
    z = embed_images(model, make_quads(scenes, config.seed + 1, config.image_size, config.jpeg_quality))
    flat = z.reshape(-1, z.shape[-1])
    sims = flat @ flat.T
    n = len(flat)
    partner = np.arange(n) ^ 1  # 0<->1 (render 1 and its copy), 2<->3 (render 2 and its copy)
    copy = sims[np.arange(n), partner]
    sims[np.arange(n), np.arange(n)] = -np.inf
    sims[np.arange(n), partner] = -np.inf
    same_scene = (z[:, 0] * z[:, 2]).sum(axis=1)
    pairs = embed_images(
        model, make_pairs(pool_scenes, config.seed + 2, config.image_size, config.jpeg_quality)
    )
    renders, copies = pairs[:, 0], pairs[:, 1]
    pool_copy = (renders * copies).sum(axis=1)
    render_sims = renders @ renders.T
    np.fill_diagonal(render_sims, -np.inf)
    unrelated = render_sims.max(axis=1)
    earlier = one_cluster_m(renders)
    threshold = float(np.quantile(earlier, 1 - FALSE_REMOVAL_BUDGET))
    return {
        "scenes": scenes,
        "copy_cosine": _quantiles(copy),
        "nearest_other_cosine": _quantiles(sims.max(axis=1)),
        "other_render_of_scene_cosine": _quantiles(same_scene),
        "pool_scenes": pool_scenes,
        "pool_copy_cosine": _quantiles(pool_copy),
        "pool_nearest_other_render_cosine": _quantiles(unrelated),
        "pool_semdedup_m": _quantiles(earlier),
        "false_removal_budget": FALSE_REMOVAL_BUDGET,
        "eps": round(1 - threshold, 4),
        "copies_found_at_eps": round(float(np.mean(pool_copy > threshold)), 4),
    }


def one_cluster_m(z: np.ndarray) -> np.ndarray:
    """SemDeDup's M over one cluster of unit rows ``z`` (:func:`pairsift.scorers.semdedup.earlier_max`):
    rows ordered by their dot product with the normalised mean, ascending, as the scorer orders a cluster
    by its centroid; each row's largest cosine to an earlier row (−1 for the first)."""
    centre = z.mean(axis=0)
    order = np.argsort(z @ (centre / np.linalg.norm(centre)), kind="stable")
    m = np.empty(len(z))
    m[order] = earlier_max(torch.from_numpy(z[order]).float())[0]
    return m


def _quantiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(values, q)), 4) for q in (1, 5, 50, 95, 99)}


def train_copy_detector(
    out_dir: str | Path,
    config: CopyTrainConfig | None = None,
    *,
    eval_scenes: int = 1000,
    pool_scenes: int = 5000,
    install: bool = False,
) -> dict[str, Any]:
    """Train, validate, write ``tiny_copy.safetensors`` + ``config.json`` (arch, eps, metrics)."""
    config = config or CopyTrainConfig()
    result = train(config)
    metrics = validate(result.model, config, eval_scenes, pool_scenes)
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
