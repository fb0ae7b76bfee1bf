"""``pairsift embed`` and ``pairsift embed-targets``: CLIP embeddings of raw image–text data."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from pairsift.cli.options import (
    add_engine_arguments,
    add_image_input_arguments,
    engine_config,
    image_input_options,
    read_limits,
)
from pairsift.stages.base import retried_lines

if TYPE_CHECKING:
    from pairsift.stages.base import Summary

MODEL_HELP = (
    "model id: open_clip:<arch>/<tag> (e.g. open_clip:ViT-B-32/openai), open_clip:<arch>@<checkpoint>, "
    "open_clip:hf-hub:<repo>, open_clip:local-dir:<dir>, hf:<repo or dir>"
)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help=MODEL_HELP)
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    add_image_input_arguments(p)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "embed",
        help="embed raw image-text shards into a DataComp-layout pool (parquet + npz per shard)",
        description="Embed webdataset tars, image folders with captions files, or parquet with images "
        "into OUT/<shard>.parquet + OUT/<shard>.npz; rerunning into OUT resumes.",
    )
    p.add_argument("input", help="directory or file of tars, captions files or parquet (fsspec URLs too)")
    p.add_argument("-o", "--output", required=True, help="pool directory")
    _common(p)
    p.add_argument("--family", help="npz key prefix (default: from the model id, e.g. ViT-B-32 -> vit_b_32)")
    p.add_argument(
        "--dtype",
        default="float16",
        choices=["float16", "float32"],
        help="stored precision (default float16)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_engine_arguments(p)
    p.set_defaults(func=cmd_embed)

    t = sub.add_parser(
        "embed-targets",
        help="embed images into a NormSim target file (.npy of float32 unit rows)",
        description="Embed every image of IMAGE_DIR_OR_TARS (a folder of images, captions files, tars or "
        "parquet) with the image tower; undecodable images are left out and counted.",
    )
    t.add_argument("input", metavar="IMAGE_DIR_OR_TARS")
    t.add_argument("-o", "--output", required=True, help="output .npy")
    _common(t)
    t.set_defaults(func=cmd_embed_targets)


def cmd_embed(args: argparse.Namespace) -> int:
    from pairsift.stages.embed import EmbedConfig, embed

    config = EmbedConfig(
        input=args.input,
        output=args.output,
        model=args.model,
        family=args.family,
        batch_size=args.batch_size,
        dtype=args.dtype,
        engine=engine_config(args, "embed"),
        **image_input_options(args),
    )
    summary = embed(config)
    print(json.dumps(asdict(summary), indent=2) if args.json else format_summary(summary))
    return 0 if summary.ok else 1


def format_summary(s: Summary) -> str:
    counts = ", ".join(f"{k}={v}" for k, v in s.statuses.items()) or "-"
    lines = [
        f"pool: {s.output}",
        f"shards: {s.shards} ({s.processed} embedded now, {s.skipped} already done, "
        f"{len(s.failures)} failed), {s.seconds:.1f}s",
        f"rows: {s.rows} ({counts})",
    ]
    lines += retried_lines(s.retried)
    lines += [f"FAILED {f.shard}: {f.error}" for f in s.failures]
    return "\n".join(lines)


def cmd_embed_targets(args: argparse.Namespace) -> int:
    from pairsift.stages.embed import TargetOptions, embed_targets

    options = TargetOptions(
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        prefetch=args.prefetch,
        max_pixels=args.max_pixels,
        input_format=args.input_format,
        limits=read_limits(args),
    )
    counts = embed_targets(
        args.input, args.output, args.model, device=args.device, precision=args.precision, options=options
    )
    print(
        f"targets: {args.output} ({counts.get('ok', 0)} rows); "
        + ", ".join(f"{k}={v}" for k, v in counts.items())
    )
    return 0
