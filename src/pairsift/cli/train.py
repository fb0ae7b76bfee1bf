"""``pairsift train``: train a CLIP on webdataset tars (a subset) with open_clip's own trainer."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from pairsift.cli.options import add_plugin_argument, load_plugins
from pairsift.stages.train import TrainConfig, TrainFailed, TrainSummary

logger = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    d = TrainConfig("", "")
    p = sub.add_parser(
        "train",
        help="train a CLIP on a subset's tars with open_clip's trainer, at a fixed samples-seen budget",
        description="Train a CLIP with open_clip_train on webdataset tars (the output of `pairsift reshard`, "
        "or the original tars with --subset) for a fixed number of samples seen, whatever the data size "
        "(DataComp's rule: the tars are read with replacement). Writes OUT/run/checkpoints/epoch_N.pt, "
        "OUT/train.json and OUT/train.log; rerunning into OUT resumes from the latest checkpoint. "
        "See docs/train.md (also for multi-GPU training with torchrun).",
    )
    p.add_argument("data", help="directory of .tar shards, a glob, or one tar")
    p.add_argument("-o", "--output", required=True, metavar="CKPT_DIR", help="output directory")
    p.add_argument("--subset", help="a subset file: train only on its samples of DATA (resharded first)")
    p.add_argument(
        "--model",
        default=d.model,
        help="an open_clip model name (ViT-B-32, ...), a registered config (pairsift-tiny-world: the tiny "
        "world teacher's architecture) or an open_clip model-config .json file (default %(default)s)",
    )
    p.add_argument("--samples-seen", type=int, default=d.samples_seen, help="budget (default %(default)s)")
    p.add_argument(
        "--checkpoints",
        type=int,
        default=d.checkpoints,
        help="epochs, one checkpoint each (default %(default)s)",
    )
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="per process (default %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (default %(default)s)")
    p.add_argument("--wd", type=float, default=d.wd, help="weight decay (default %(default)s)")
    p.add_argument("--warmup", type=int, default=d.warmup, help="warm-up steps (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")
    p.add_argument(
        "--workers", type=int, default=d.workers, help="data-loader processes (default %(default)s)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=d.threads,
        help="torch CPU threads of the trainer (OMP_NUM_THREADS; default: torch's own)",
    )
    p.add_argument("--device", default=d.device, help="cpu, cuda or auto (default)")
    p.add_argument(
        "--precision", default=d.precision, help="open_clip's --precision (default: amp on CUDA, fp32)"
    )
    p.add_argument(
        "--nproc", type=int, default=d.nproc, help="trainer processes; > 1 launches torchrun (one per GPU)"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_plugin_argument(p)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    load_plugins(args)
    config = TrainConfig(
        args.data,
        args.output,
        subset=args.subset,
        model=args.model,
        samples_seen=args.samples_seen,
        checkpoints=args.checkpoints,
        batch_size=args.batch_size,
        lr=args.lr,
        wd=args.wd,
        warmup=args.warmup,
        seed=args.seed,
        workers=args.workers,
        threads=args.threads,
        device=args.device,
        precision=args.precision,
        nproc=args.nproc,
    )
    try:
        from pairsift.stages.train import train

        summary = train(config)
    except TrainFailed as exc:
        logger.error("%s", exc)
        return 1
    print(json.dumps(summary.to_dict(), indent=2) if args.json else format_summary(summary))
    return 0


def format_summary(s: TrainSummary) -> str:
    resumed = f", resumed from epoch {s.resumed_from}" if s.resumed_from else ""
    return "\n".join(
        [
            f"checkpoint: {s.checkpoint} (epoch {s.epochs}{resumed})",
            f"samples seen: {s.samples_seen} from {s.train_samples} training samples, {s.seconds:.1f}s",
        ]
    )
