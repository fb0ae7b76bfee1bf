"""``pairsift evaluate``: zero-shot classification and retrieval of a trained CLIP with clip_benchmark.

Tasks are folders in clip_benchmark's webdataset layout (what ``clip_benchmark_export_wds`` writes and
DataComp's evaluation reads): ``test/nshards.txt`` and ``test/0.tar …``, plus ``classnames.txt`` and
``zeroshot_classification_templates.txt`` for classification, or ``dataset_type.txt`` = ``retrieval``.
A folder that holds such task folders stands for all of them. Each task gets one main figure in [0, 1]:
top-1 accuracy (``acc1``) for classification, the mean of image and text recall@1 for retrieval; the
average is their mean, as DataComp averages its tasks.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pairsift.errors import InputError
from pairsift.io.fs import atomic_write

logger = logging.getLogger(__name__)

TRAIN_RECORD = "train.json"


@dataclass(frozen=True)
class EvaluateConfig:
    """``checkpoint``: a ``pairsift train`` output folder (its latest checkpoint) or an ``epoch_N.pt``;
    ``model``: the open_clip model name or JSON config, for a checkpoint without ``train.json`` beside it."""

    checkpoint: str
    tasks: tuple[str, ...]
    output: str | None = None
    model: str | None = None
    device: str = "auto"
    batch_size: int = 256


@dataclass
class TaskResult:
    task: str
    kind: str  #: classification or retrieval
    value: float  #: acc1, or the mean of image and text recall@1
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class EvaluateResult:
    checkpoint: str
    model: str
    tasks: list[TaskResult]
    seconds: float

    @property
    def average(self) -> float:
        values = [t.value for t in self.tasks]
        return sum(values) / len(values) if values else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint,
            "model": self.model,
            "tasks": {t.task: t.value for t in self.tasks},
            "details": {t.task: {"kind": t.kind, **asdict(t)["metrics"]} for t in self.tasks},
            "average": self.average,
            "seconds": round(self.seconds, 3),
        }


def find_tasks(paths: tuple[str, ...]) -> dict[str, Path]:
    """Task folders by name (the folder name); a folder of task folders gives each of them."""
    if not paths:
        raise InputError("no tasks given: name clip_benchmark webdataset task folders (--tasks DIR ...)")
    found: dict[str, Path] = {}
    for text in paths:
        path = Path(text)
        if not path.is_dir():
            raise InputError(f"task folder {text}: no such directory")
        if (path / "test" / "nshards.txt").is_file():
            candidates = [path]
        else:
            candidates = sorted(p for p in path.iterdir() if (p / "test" / "nshards.txt").is_file())
        if not candidates:
            raise InputError(
                f"task folder {text}: not a clip_benchmark webdataset task (no test/nshards.txt), nor a "
                "folder of such tasks"
            )
        for task in candidates:
            if task.name in found:
                raise InputError(f"two tasks named {task.name!r}: {found[task.name]} and {task}")
            found[task.name] = task
    return found


def resolve_checkpoint(checkpoint: str, model: str | None) -> tuple[Path, Path | None, str]:
    """(checkpoint file, model config folder or None, model name)."""
    path = Path(checkpoint)
    if path.is_dir():
        from pairsift.stages.train import LATEST, checkpoints_dir

        folder, file = path, checkpoints_dir(path) / LATEST
        if not file.is_file():
            raise InputError(f"checkpoint {checkpoint}: no {file.relative_to(path)}; train into it first")
    elif path.is_file():
        folder, file = path.parent.parent.parent, path
    else:
        raise InputError(f"checkpoint {checkpoint}: no such file or directory")
    record = folder / TRAIN_RECORD
    if model is None:
        if not record.is_file():
            raise InputError(f"checkpoint {checkpoint}: no {TRAIN_RECORD} beside it; give --model")
        name = str(json.loads(record.read_text())["model_name"])
        return file, folder / "model", name
    if model.endswith(".json"):
        return file, Path(model).parent, Path(model).stem
    return file, None, model


def load_model(config: EvaluateConfig) -> tuple[Any, Any, Any, str, str]:
    """(model in eval mode, eval transform, tokenizer, device, model name) from the checkpoint."""
    import open_clip
    import torch

    from pairsift.stages.train import resolve_device

    file, model_dir, name = resolve_checkpoint(config.checkpoint, config.model)
    if model_dir is not None:
        open_clip.add_model_config(model_dir)
    device = resolve_device(config.device)
    model, _, preprocess = open_clip.create_model_and_transforms(name, device=device)
    state = torch.load(file, map_location="cpu", weights_only=False)
    state = state.get("state_dict", state)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"checkpoint {file}: does not fit model {name!r}: {first}") from None
    return model.eval(), preprocess, open_clip.get_tokenizer(name), device, name


def evaluate(config: EvaluateConfig) -> EvaluateResult:
    """Evaluate the checkpoint on every task; writes ``config.output`` (JSON) when given."""
    start = time.perf_counter()
    tasks = find_tasks(config.tasks)
    model, preprocess, tokenizer, device, name = load_model(config)
    results = [
        _evaluate_task(task, path, model, preprocess, tokenizer, device, config.batch_size)
        for task, path in tasks.items()
    ]
    result = EvaluateResult(config.checkpoint, name, results, time.perf_counter() - start)
    if config.output:
        text = (json.dumps(result.to_dict(), indent=2) + "\n").encode()
        Path(config.output).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(config.output, lambda fh: fh.write(text))
    return result


def _evaluate_task(
    task: str, path: Path, model: Any, preprocess: Any, tokenizer: Any, device: str, batch_size: int
) -> TaskResult:
    import torch
    from clip_benchmark.datasets.builder import build_wds_dataset, image_captions_collate_fn
    from clip_benchmark.metrics import zeroshot_retrieval

    dataset = build_wds_dataset(task, transform=preprocess, split="test", data_dir=str(path))
    retrieval = dataset.classes is None
    collate = image_captions_collate_fn if retrieval else None
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=0, collate_fn=collate)
    amp = device.startswith("cuda")
    if retrieval:
        metrics = zeroshot_retrieval.evaluate(model, loader, tokenizer, device, amp=amp, recall_k_list=[1, 5])
        value = (metrics["image_retrieval_recall@1"] + metrics["text_retrieval_recall@1"]) / 2
        kind = "retrieval"
    else:
        if not dataset.templates:
            raise InputError(f"task {path}: no zeroshot_classification_templates.txt")
        metrics = _classification(model, loader, tokenizer, dataset.classes, dataset.templates, device, amp)
        value, kind = metrics["acc1"], "classification"
    clean = {k: float(v) for k, v in metrics.items()}
    logger.info("%s (%s): %.3f", task, kind, value)
    return TaskResult(task, kind, float(value), clean)


def _classification(
    model: Any, loader: Any, tokenizer: Any, classes: list[str], templates: list[str], device: str, amp: bool
) -> dict[str, float]:
    """clip_benchmark's zero-shot classifier (prompt ensembling) and inference; top-1 accuracy and mean
    per-class recall from its logits. (clip_benchmark 1.6.2's own ``accuracy`` calls ``float`` on a
    one-element array, which NumPy 2 refuses, so the two figures are computed here.)"""
    from clip_benchmark.metrics.zeroshot_classification import run_classification, zero_shot_classifier

    classifier = zero_shot_classifier(model, tokenizer, classes, templates, device, amp=amp)
    logits, target = run_classification(model, classifier, loader, device, amp=amp)
    pred = logits.argmax(dim=1)
    recalls = [
        float((pred[target == c] == c).float().mean()) for c in range(len(classes)) if (target == c).any()
    ]
    return {
        "acc1": float((pred == target).float().mean()),
        "mean_per_class_recall": sum(recalls) / len(recalls),
        "samples": float(len(target)),
    }
