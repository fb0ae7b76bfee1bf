"""Generate a noisy world, train a teacher on it, evaluate it, write (and optionally install) it."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairsift.world import KINDS, WorldConfig, generate
from pairsift.world.teacher.evaluate import evaluate_retrieval, evaluate_tasks
from pairsift.world.teacher.model import CONFIG_NAME, PACKAGE_DIR, WEIGHTS_NAME, build_tokenizer, save_teacher
from pairsift.world.teacher.train import TrainConfig, train

logger = logging.getLogger(__name__)

METRICS_NAME = "metrics.json"


@dataclass
class BuildResult:
    weights: Path
    config: Path
    metrics: dict[str, Any]


def train_teacher(
    out_dir: str | Path,
    *,
    samples: int = 20000,
    train_config: TrainConfig | None = None,
    task_samples: int = 500,
    eval_samples: int = 1000,
    install: bool = False,
) -> BuildResult:
    """Train on a default-noise world of ``samples`` pairs and write weights, config and metrics.

    Zero-shot accuracy uses the test splits of that world's tasks; retrieval uses ``eval_samples`` clean
    pairs of a world generated with the next seed. ``install`` copies the weights and config into the
    package (what ``load_teacher()`` loads).
    """
    tc = train_config or TrainConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pairsift-teacher-") as tmp:
        world = Path(tmp) / "world"
        generate(world, WorldConfig(samples=samples, seed=tc.seed, task_samples=task_samples))
        result = train(world / "pool", tc)
        tokenizer = build_tokenizer(result.config)
        zero_shot = evaluate_tasks(result.model, tokenizer, result.config, world)
        held_out = Path(tmp) / "held_out"
        clean = WorldConfig(
            samples=eval_samples, seed=tc.seed + 1, shares={k: float(k == "clean") for k in KINDS}, tasks=()
        )
        generate(held_out, clean)
        retrieval = evaluate_retrieval(result.model, tokenizer, result.config, held_out)
    weights, config_path = save_teacher(result.model, result.config, out)
    metrics = {
        "zero_shot": zero_shot,
        "retrieval": retrieval,
        "tau": json.loads(config_path.read_text())["tau"],
        "train_seconds": round(result.seconds, 1),
        "steps": len(result.losses),
        "first_loss": result.losses[0] if result.losses else None,
        "final_loss": result.losses[-1] if result.losses else None,
        "weights_bytes": weights.stat().st_size,
    }
    metrics_tmp = out / f".{METRICS_NAME}.tmp"
    metrics_tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    metrics_tmp.replace(out / METRICS_NAME)
    logger.info("wrote %s, %s and %s", weights, config_path, out / METRICS_NAME)
    if install:
        for name in (WEIGHTS_NAME, CONFIG_NAME):
            shutil.copyfile(out / name, PACKAGE_DIR / name)
        logger.info("installed the teacher into %s", PACKAGE_DIR)
    return BuildResult(weights, config_path, metrics)
