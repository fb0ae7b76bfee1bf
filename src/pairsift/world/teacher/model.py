"""The tiny teacher's architecture, weights file and open_clip building blocks.

The teacher is a plain ``open_clip.CLIP`` built from a model config dict (``embed_dim``, ``vision_cfg``,
``text_cfg``, as in open_clip's JSON model configs), with open_clip's own preprocessing transform and
tokenizer. Weights are stored as float16 safetensors and loaded into a float32 model.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import open_clip
import torch
from safetensors.torch import load_file

from pairsift.world.weights import read_model_config, save_model_files

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_NAME = "tiny_world.safetensors"
CONFIG_NAME = "config.json"

#: The architecture: a 3-layer ViT over 8x8 patches of 64x64 images and a 3-layer text transformer.
#: open_clip's tokenizer has 49,408 tokens, so the text side is narrow to keep the file small.
MODEL_CFG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "patch_size": 8, "width": 128, "layers": 3, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 3},
}


def default_config() -> dict[str, Any]:
    """A fresh teacher config: the open_clip model config and the preprocessing statistics."""
    return {
        "model_cfg": copy.deepcopy(MODEL_CFG),
        "mean": list(open_clip.OPENAI_DATASET_MEAN),
        "std": list(open_clip.OPENAI_DATASET_STD),
    }


def build_model(config: dict[str, Any]) -> open_clip.CLIP:
    """An untrained ``open_clip.CLIP`` of the config's architecture (float32, eval mode)."""
    model = open_clip.CLIP(**config["model_cfg"])
    return model.eval()


def build_preprocess(config: dict[str, Any]) -> Any:
    """open_clip's evaluation transform (PIL image -> normalised tensor) for the config's image size."""
    return open_clip.image_transform(
        config["model_cfg"]["vision_cfg"]["image_size"],
        is_train=False,
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
    )


def build_tokenizer(config: dict[str, Any]) -> open_clip.tokenizer.SimpleTokenizer:
    """open_clip's default BPE tokenizer with the config's context length."""
    return open_clip.tokenizer.SimpleTokenizer(
        context_length=config["model_cfg"]["text_cfg"]["context_length"]
    )


def tau_of(model: open_clip.CLIP) -> float:
    """The model's temperature, 1 / exp(logit_scale)."""
    return float(math.exp(-float(model.logit_scale.detach())))


def save_teacher(model: open_clip.CLIP, config: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``tiny_world.safetensors`` (float16) and ``config.json`` (with the learned tau)."""
    config = {**config, "tau": tau_of(model), "logit_scale": float(model.logit_scale.detach())}
    return save_model_files(model, config, out_dir, (WEIGHTS_NAME, CONFIG_NAME), "pairsift:tiny-world")


def read_config(directory: str | Path = PACKAGE_DIR) -> dict[str, Any]:
    return read_model_config(
        Path(directory) / CONFIG_NAME,
        "teacher",
        "train-teacher",
        ("model_cfg", "mean", "std"),
        "model_cfg, mean, std, tau",
    )


def load_weights(model: open_clip.CLIP, directory: str | Path = PACKAGE_DIR) -> open_clip.CLIP:
    """Load ``tiny_world.safetensors`` from ``directory`` into ``model`` (cast to the model's dtype)."""
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: teacher weights not found (train them: pairsift world train-teacher)"
        )
    state = {k: v.to(torch.float32) for k, v in load_file(str(path)).items()}
    model.load_state_dict(state, strict=True)
    return model
