"""``pairsift reshard``: write the samples of a subset file into new webdataset tars."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from pairsift.cli.options import add_engine_arguments, add_limit_arguments, engine_config, read_limits
from pairsift.errors import ConfigError
from pairsift.stages.base import retried_lines
from pairsift.stages.reshard import ReshardConfig, ReshardSummary, reshard

logger = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "reshard",
        help="copy the samples of a subset file out of webdataset tars into new tars",
        description="Keep the samples whose uid is in SUBSET (once per listing: duplicates upsample) "
        "and write them into OUT_DIR/<input-stem>-NNNNNN.tar; rerunning into OUT_DIR resumes.",
    )
    p.add_argument("input", nargs="?", help="directory of .tar shards, a glob, or one tar (fsspec URLs)")
    p.add_argument("--input", dest="input_option", help=argparse.SUPPRESS)  # before 0.2; deprecated
    p.add_argument("--subset", required=True, help="DataComp subset file (.npy of dtype u8,u8)")
    p.add_argument("-o", "--output", required=True, help="output directory (tars, stats/, summary.json)")
    p.add_argument("--shard-size", type=int, default=10000, help="samples per output tar (default 10000)")
    p.add_argument(
        "--layout",
        default="pairsift",
        choices=("pairsift", "datacomp"),
        help="output names: pairsift (<stem>-NNNNNN.tar, keys kept) or datacomp (what DataComp's resharder "
        "writes: NNNNNNNN.tar with _stats.json, <uid>-<j> keys, sample_ids.npy, meta.json)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_limit_arguments(p)
    add_engine_arguments(p)
    p.set_defaults(func=cmd_reshard)


def cmd_reshard(args: argparse.Namespace) -> int:
    summary = reshard(
        ReshardConfig(
            input_of(args),
            args.subset,
            args.output,
            args.shard_size,
            engine_config(args, "reshard"),
            layout=args.layout,
            limits=read_limits(args),
        )
    )
    print(json.dumps(summary.to_dict(), indent=2) if args.json else format_summary(summary))
    return 0 if summary.ok else 1


def input_of(args: argparse.Namespace) -> str:
    """The input tars: positional, as every command takes its main input; ``--input`` still works."""
    if args.input_option is not None:
        logger.warning("`pairsift reshard --input X` is deprecated; write `pairsift reshard X`")
        if args.input is not None and args.input != args.input_option:
            raise ConfigError(f"two inputs given: {args.input} and --input {args.input_option}")
        return str(args.input_option)
    if args.input is None:
        raise ConfigError("pairsift reshard: give the input tars (a directory, a glob or one tar)")
    return str(args.input)


def format_summary(s: ReshardSummary) -> str:
    lines = [
        f"output: {s.output}",
        f"input shards: {s.shards} ({s.processed} resharded now, {s.skipped} already done, "
        f"{len(s.failures)} failed), {s.seconds:.1f}s",
        f"samples: {s.input_samples} read, {s.kept_samples} kept, {s.written_samples} written "
        f"({s.duplicates_written} duplicate copies) into {s.tars} tars",
        f"subset: {s.subset_rows} rows, {s.subset_uids} distinct uids, {s.found_uids} found, "
        f"{s.missing_uids} missing from the tars",
    ]
    if s.missing_examples:
        lines.append("  missing, first ones: " + ", ".join(s.missing_examples))
    if s.derived_uid:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(s.derived_uid_reasons.items()))
        lines.append(
            f"samples without a usable uid (uid derived, as embed does): {s.derived_uid} ({reasons})"
        )
        for e in s.derived_uid_examples:
            lines.append(f"  {e['shard']}: {e['key']} ({e['reason']})")
    if s.refused:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(s.refused_reasons.items()))
        lines.append(f"samples refused (not written): {s.refused} ({reasons})")
        for e in s.refused_examples:
            lines.append(f"  {e['shard']}: {e['member']} ({e['reason']}: {e['detail']})")
    lines += retried_lines(s.retried)
    for f in s.failures:
        lines.append(f"FAILED {f.shard}: {f.error}")
    return "\n".join(lines)
