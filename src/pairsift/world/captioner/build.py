"""Train the tiny world captioner, evaluate it on held-out scenes, write (and optionally install) it."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pairsift.world.captioner import WEIGHTS_DIR
from pairsift.world.captioner.evaluate import evaluate_captioner
from pairsift.world.captioner.train import CaptionerTrainConfig, train_captioner

logger = logging.getLogger(__name__)

TRAINING_NAME = "training.json"
METRICS_NAME = "metrics.json"


@dataclass
class CaptionerBuild:
    directory: Path
    metrics: dict[str, Any]


def save_captioner(model: Any, processor: Any, directory: Path, record: dict[str, Any]) -> None:
    """``save_pretrained`` with float16 weights (loaded back as float32) and the training record."""
    directory.mkdir(parents=True, exist_ok=True)
    model.to(torch.float16).save_pretrained(directory)
    model.to(torch.float32)
    processor.save_pretrained(directory)
    (directory / TRAINING_NAME).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def evaluate_saved(directory: Path, scenes: int) -> dict[str, Any]:
    """Evaluate the checkpoint as shipped (float16 weights loaded as float32), not the trained copy."""
    from transformers import BlipForConditionalGeneration, BlipProcessor

    model = BlipForConditionalGeneration.from_pretrained(directory, dtype=torch.float32).eval()
    return evaluate_captioner(model, BlipProcessor.from_pretrained(directory), scenes=scenes)


def train_and_save(
    out_dir: str | Path,
    config: CaptionerTrainConfig | None = None,
    *,
    eval_scenes: int = 500,
    install: bool = False,
) -> CaptionerBuild:
    """Train, evaluate on ``eval_scenes`` held-out scenes, write ``out_dir``; ``install`` copies it into
    the package (what ``pairsift:tiny-world-captioner`` loads)."""
    result = train_captioner(config)
    out = Path(out_dir)
    save_captioner(result.model, result.processor, out, result.record)
    metrics = evaluate_saved(out, eval_scenes)
    (out / METRICS_NAME).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    if install:
        if WEIGHTS_DIR.exists():
            shutil.rmtree(WEIGHTS_DIR)
        shutil.copytree(out, WEIGHTS_DIR)
        logger.info("installed the captioner into %s", WEIGHTS_DIR)
    return CaptionerBuild(out, metrics)
