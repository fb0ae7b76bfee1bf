"""``pairsift evaluate``: zero-shot classification and retrieval of a trained CLIP with clip_benchmark."""

from __future__ import annotations

import argparse
from typing import Any

from pairsift.cli.options import add_plugin_argument, load_plugins
from pairsift.stages.evaluate import EvaluateConfig, EvaluateResult


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="zero-shot classification and retrieval of a trained CLIP on clip_benchmark webdataset tasks",
        description="Evaluate a `pairsift train` output (its latest checkpoint) or an epoch_N.pt with "
        "clip_benchmark on task folders in its webdataset layout (test/nshards.txt, test/0.tar, ..., "
        "classnames.txt and zeroshot_classification_templates.txt, or dataset_type.txt = retrieval). "
        "Writes the figure per task (top-1 accuracy; the mean of image and text recall@1 for retrieval) and "
        "their average as JSON. See docs/train.md.",
    )
    p.add_argument("checkpoint", metavar="CKPT", help="a `pairsift train` output directory or a .pt file")
    p.add_argument("-o", "--output", required=True, help="results JSON file")
    p.add_argument(
        "--tasks", nargs="+", required=True, metavar="DIR", help="task folders, or folders of task folders"
    )
    p.add_argument(
        "--model", help="model name or config .json, for a checkpoint without train.json beside it"
    )
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--batch-size", type=int, default=256, help="images per batch (default %(default)s)")
    add_plugin_argument(p)
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pairsift.stages.evaluate import evaluate

    load_plugins(args)
    config = EvaluateConfig(
        args.checkpoint, tuple(args.tasks), args.output, args.model, args.device, args.batch_size
    )
    result = evaluate(config)
    print(format_result(result))
    return 0


def format_result(r: EvaluateResult) -> str:
    lines = [f"{t.task:<24} {t.kind:<15} {t.value:.3f}" for t in r.tasks]
    lines.append(f"{'average':<40} {r.average:.3f}")
    return "\n".join([f"checkpoint: {r.checkpoint} ({r.model}, {r.seconds:.1f}s)", *lines])
