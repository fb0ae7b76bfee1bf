"""``pairsift reshard``: write the samples of a subset file into new webdataset tars."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pairsift.commands.engine_options import add_engine_arguments, engine_config
from pairsift.reshard import ReshardSummary, reshard


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "reshard",
        help="copy the samples of a subset file out of webdataset tars into new tars",
        description="Keep the samples whose uid is in SUBSET (once per listing: duplicates upsample) "
        "and write them into OUT_DIR/<input-stem>-NNNNNN.tar; rerunning into OUT_DIR resumes.",
    )
    p.add_argument(
        "--input", required=True, help="directory of .tar shards, a glob, or one tar (fsspec URLs)"
    )
    p.add_argument("--subset", required=True, help="DataComp subset file (.npy of dtype u8,u8)")
    p.add_argument("-o", "--output", required=True, help="output directory (tars, stats/, summary.json)")
    p.add_argument("--shard-size", type=int, default=10000, help="samples per output tar (default 10000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes, one input tar each (default 1)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_engine_arguments(p)
    p.set_defaults(func=cmd_reshard)


def cmd_reshard(args: argparse.Namespace) -> int:
    summary = reshard(
        args.input,
        args.subset,
        args.output,
        shard_size=args.shard_size,
        workers=args.workers,
        engine=engine_config(args, "reshard"),
    )
    print(json.dumps(summary.to_dict(), indent=2) if args.json else format_summary(summary))
    return 0 if summary.ok else 1


def format_summary(s: ReshardSummary) -> str:
    lines = [
        f"output: {s.output}",
        f"input shards: {s.shards} ({s.resharded} resharded now, {s.skipped} already done, "
        f"{len(s.failures)} failed), {s.seconds:.1f}s",
        f"samples: {s.input_samples} read, {s.kept_samples} kept, {s.written_samples} written "
        f"({s.duplicates_written} duplicate copies) into {s.tars} tars",
        f"subset: {s.subset_rows} rows, {s.subset_uids} distinct uids, {s.found_uids} found, "
        f"{s.missing_uids} missing from the tars",
    ]
    if s.missing_examples:
        lines.append("  missing, first ones: " + ", ".join(s.missing_examples))
    if s.without_uid:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(s.without_uid_reasons.items()))
        lines.append(f"samples without a usable uid (skipped): {s.without_uid} ({reasons})")
        for e in s.without_uid_examples:
            lines.append(f"  {e['shard']}: {e['key']} ({e['reason']})")
    for f in s.failures:
        lines.append(f"FAILED {f.shard}: {f.error}")
    return "\n".join(lines)
