"""Evaluate a teacher: zero-shot accuracy on the world's tasks and image->text retrieval on clean pairs."""

from __future__ import annotations

import glob
import json
import logging
from pathlib import Path
from typing import Any

import torch

from pairsift.io.tars import read_samples
from pairsift.world.teacher.train import decode_image, normalise

logger = logging.getLogger(__name__)


def zero_shot_accuracy(image_emb: torch.Tensor, class_emb: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images whose most similar class embedding is their label's."""
    if len(labels) == 0:
        return float("nan")
    predictions = (image_emb @ class_emb.T).argmax(dim=1)
    return float((predictions == labels).float().mean())


def retrieval_accuracy(image_emb: torch.Tensor, text_emb: torch.Tensor, k: int = 1) -> float:
    """Image->text top-``k``: share of images ``i`` whose own text ``i`` is among the ``k`` most similar."""
    if len(image_emb) == 0:
        return float("nan")
    sims = image_emb @ text_emb.T
    own = sims.diagonal().unsqueeze(1)
    rank = (sims > own).sum(dim=1)  # texts strictly better than the right one
    return float((rank < k).float().mean())


@torch.no_grad()
def class_embeddings(model: Any, tokenizer: Any, classes: list[str], templates: list[str]) -> torch.Tensor:
    """Prompt ensembling: the normalised mean of each class's normalised template embeddings."""
    out = []
    for name in classes:
        emb = model.encode_text(tokenizer([t.format(name) for t in templates]), normalize=True)
        mean = emb.mean(dim=0)
        out.append(mean / mean.norm())
    return torch.stack(out)


@torch.no_grad()
def encode_images(model: Any, images: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """Normalised image embeddings of uint8 ``[n, 3, H, W]`` images, in batches of 256."""
    parts = [
        model.encode_image(normalise(images[i : i + 256], mean, std), normalize=True)
        for i in range(0, len(images), 256)
    ]
    return torch.cat(parts) if parts else torch.empty(0)


def _load_split(split_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    arrays, labels = [], []
    for tar in sorted(glob.glob(str(split_dir / "*.tar"))):
        for sample in read_samples(tar):
            array = decode_image(sample.member("jpg") or sample.member("png"))
            cls = sample.member("cls")
            if array is None or cls is None:
                raise ValueError(f"{tar}: sample {sample.key} has no decodable image or no .cls")
            arrays.append(torch.from_numpy(array.copy()).permute(2, 0, 1))
            labels.append(int(cls.decode()))
    return torch.stack(arrays), torch.tensor(labels)


def evaluate_tasks(
    model: Any, tokenizer: Any, config: dict[str, Any], world_dir: str | Path
) -> dict[str, float]:
    """Zero-shot accuracy on the test split of every task in ``world_dir/tasks``."""
    results = {}
    for task_dir in sorted(p for p in (Path(world_dir) / "tasks").iterdir() if p.is_dir()):
        spec = json.loads((task_dir / "classes.json").read_text())
        images, labels = _load_split(task_dir / "test")
        class_emb = class_embeddings(model, tokenizer, spec["classes"], spec["templates"])
        image_emb = encode_images(model, images, config["mean"], config["std"])
        results[task_dir.name] = zero_shot_accuracy(image_emb, class_emb, labels)
        logger.info(
            "zero-shot %s: %.3f (chance %.3f)",
            task_dir.name,
            results[task_dir.name],
            1 / len(spec["classes"]),
        )
    return results


@torch.no_grad()
def evaluate_retrieval(
    model: Any, tokenizer: Any, config: dict[str, Any], world_dir: str | Path
) -> dict[str, float]:
    """Image->text top-1 and top-5 over all (clean) pool pairs of ``world_dir``, as one batch."""
    arrays, captions = [], []
    for tar in sorted(glob.glob(str(Path(world_dir) / "pool" / "*.tar"))):
        for sample in read_samples(tar):
            array = decode_image(sample.member("jpg") or sample.member("png"))
            if array is not None:
                arrays.append(torch.from_numpy(array.copy()).permute(2, 0, 1))
                captions.append((sample.member("txt") or b"").decode())
    image_emb = encode_images(model, torch.stack(arrays), config["mean"], config["std"])
    text_emb = torch.cat(
        [
            model.encode_text(tokenizer(captions[i : i + 256]), normalize=True)
            for i in range(0, len(captions), 256)
        ]
    )
    return {
        "pairs": len(captions),
        "top1": retrieval_accuracy(image_emb, text_emb, 1),
        "top5": retrieval_accuracy(image_emb, text_emb, 5),
    }
