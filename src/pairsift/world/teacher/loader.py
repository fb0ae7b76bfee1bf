"""Loading the bundled teacher (imports torch and open_clip)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import open_clip
import torch

from pairsift.world.teacher.model import (
    PACKAGE_DIR,
    build_model,
    build_preprocess,
    build_tokenizer,
    load_weights,
    read_config,
)


def teacher_config(directory: str | Path = PACKAGE_DIR) -> dict[str, Any]:
    """The teacher's config: ``model_cfg`` (an open_clip model config), ``mean``, ``std``, ``tau``, …"""
    return read_config(directory)


def teacher_tau(directory: str | Path = PACKAGE_DIR) -> float:
    """The teacher's learned temperature tau = 1 / logit_scale (negCLIPLoss's natural default)."""
    return float(read_config(directory)["tau"])


def load_teacher(
    device: str | torch.device = "cpu", *, directory: str | Path = PACKAGE_DIR
) -> tuple[open_clip.CLIP, Any, open_clip.tokenizer.SimpleTokenizer]:
    """``(model, preprocess, tokenizer)`` of the teacher in ``directory`` (default: the shipped one).

    The model is float32, in eval mode, on ``device``.
    """
    config = read_config(directory)
    model = load_weights(build_model(config), directory).to(device).eval()
    return model, build_preprocess(config), build_tokenizer(config)
