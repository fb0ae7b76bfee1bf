"""A randomly initialised tiny BLIP captioner built in code and saved like any BLIP checkpoint."""

from __future__ import annotations

from pathlib import Path

from pairsift.world.captioner.model import build_model, build_processor


def save_tiny_blip(directory: Path, seed: int = 0) -> Path:
    """Write ``config.json``, weights and processor files of a random tiny BLIP into ``directory``."""
    processor = build_processor()
    model = build_model(len(processor.tokenizer), seed=seed)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory
