"""``pairsift caption``: synthetic captions of raw images into a per-shard cache (SIEVE's first step)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from pairsift.cli.options import (
    add_engine_arguments,
    add_image_input_arguments,
    engine_config,
    image_input_options,
)

CAPTIONER_HELP = (
    "captioner: a BLIP or vision-encoder-decoder hub id, a save_pretrained directory, or "
    "pairsift:tiny-world-captioner (default Salesforce/blip-image-captioning-base)"
)


def add_parser(sub: Any) -> None:
    from pairsift.models.caption_settings import DEFAULT_CAPTIONER, CaptionSettings

    d = CaptionSettings()
    p = sub.add_parser(
        "caption",
        help="caption raw images into a caption cache (SIEVE's first step)",
        description="Write OUT/<shard>.parquet (uid, key, status, captions) for every raw shard "
        "(webdataset tars, image folders, parquet with images); rerunning into OUT resumes. Decoding "
        "defaults are SIEVE's: prompt 'a picture of ' (stripped), nucleus sampling top-p 0.9, 8 captions, "
        "5-20 tokens, repetition penalty 1.1. See docs/methods/sieve.md.",
    )
    p.add_argument("input", help="directory or file of tars, captions files or parquet (fsspec URLs too)")
    p.add_argument("-o", "--output", required=True, help="caption cache directory")
    p.add_argument("--model", default=DEFAULT_CAPTIONER, help=CAPTIONER_HELP)
    p.add_argument(
        "--prompt", default=d.prompt, help="decoder prompt, stripped from outputs (default %(default)r)"
    )
    p.add_argument(
        "--num-captions", type=int, default=d.num_captions, help="captions per image (default %(default)s)"
    )
    p.add_argument("--top-p", type=float, default=d.top_p, help="nucleus sampling mass (default %(default)s)")
    p.add_argument(
        "--min-length",
        type=int,
        default=d.min_length,
        help="min tokens, prompt included (default %(default)s)",
    )
    p.add_argument(
        "--max-length",
        type=int,
        default=d.max_length,
        help="max tokens, prompt included (default %(default)s)",
    )
    p.add_argument(
        "--repetition-penalty", type=float, default=d.repetition_penalty, help="(default %(default)s)"
    )
    p.add_argument("--greedy", action="store_true", help="greedy decoding, one caption per image")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--batch-size", type=int, default=64, help="images per generate call (default 64)")
    add_image_input_arguments(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_engine_arguments(p)
    p.set_defaults(func=cmd_caption)


def cmd_caption(args: argparse.Namespace) -> int:
    from pairsift.models.caption_settings import CaptionSettings
    from pairsift.stages.caption import CaptionConfig, caption

    settings = CaptionSettings(
        prompt=args.prompt,
        num_captions=1 if args.greedy else args.num_captions,
        top_p=args.top_p,
        min_length=args.min_length,
        max_length=args.max_length,
        repetition_penalty=args.repetition_penalty,
        sample=not args.greedy,
    )
    config = CaptionConfig(
        input=args.input,
        output=args.output,
        model=args.model,
        settings=settings,
        seed=args.seed,
        batch_size=args.batch_size,
        engine=engine_config(args, "caption"),
        **image_input_options(args),
    )
    summary = caption(config)
    if args.json:
        record = {k: v for k, v in asdict(summary).items() if k != "failures"}
        record["failures"] = [asdict(f) for f in summary.failures]
        print(json.dumps(record, indent=2))
    else:
        counts = ", ".join(f"{k}={v}" for k, v in summary.statuses.items()) or "nothing new"
        print(
            f"captioned {summary.images} images in {summary.processed} shards ({summary.skipped} cached) "
            f"in {summary.seconds:.1f}s into {summary.output}: {counts}"
        )
        for failure in summary.failures:
            print(f"FAILED {failure.shard}: {failure.error}")
    return 0 if summary.ok else 1
