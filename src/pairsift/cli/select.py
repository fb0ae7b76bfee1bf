"""``pairsift select``: rules applied in order to a run's score tables -> a DataComp subset file."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pairsift.cli.options import add_engine_arguments, engine_config
from pairsift.engines import make_engine
from pairsift.select.fusion import NORMALIZERS
from pairsift.select.rules import RULES
from pairsift.select.selection import DEFAULT_MEMORY_BUDGET, SelectConfig, SelectionResult, select


class OrderedRule(argparse.Action):
    """Collects every rule flag into one list, in command-line order."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None
    ) -> None:
        rules = list(getattr(namespace, "rules", None) or [])
        rules.append((self.dest, str(values)))
        namespace.rules = rules


RULE_HELP = {
    "top": "NAME=FRACTION: the exact top int(FRACTION·base) rows (ties by uid); sequential when repeated",
    "top-n": "NAME=N: the exact top N rows (an error when fewer rows still kept have a finite NAME)",
    "threshold": "NAME=VALUE keeps >= VALUE; also NAME<=VALUE, NAME<VALUE, NAME>VALUE",
    "restrict": "UIDS: keep rows in this uid list (.npy, .txt, .parquet); later fractions count against it",
    "intersect": "UIDS: keep rows in this uid list (fractions still count against the pool)",
    "union": "UIDS: add pool rows in this uid list",
    "exclude": "UIDS: drop rows in this uid list",
}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "select",
        help="select a subset from a run's score tables",
        description="Apply rules in the order given and write a DataComp subset file (sorted u8,u8 "
        "uids) plus OUTPUT.json with the funnel. Example (the paper's recipe): "
        "--top neg_clip_loss=0.3 --top norm_sim_inf=0.2",
    )
    p.add_argument("run_dir", help="run directory written by `pairsift score`")
    p.add_argument("-o", "--output", required=True, help="subset file to write (.npy)")
    for flag in RULES.names():
        p.add_argument(f"--{flag}", dest=flag, action=OrderedRule, metavar="SPEC", help=RULE_HELP.get(flag))
    p.add_argument(
        "--fuse",
        action="append",
        default=[],
        metavar="[NAME=]COL:W,COL:W",
        help="a fused column (default name 'fused'), usable by the rules; statistics are pool-wide",
    )
    p.add_argument("--normalize", default="minmax", choices=NORMALIZERS.names(), help="for --fuse")
    p.add_argument(
        "--datacomp-threshold",
        action="store_true",
        help="--top fractions use DataComp's semantics: threshold at sorted position int(n·f), keep >= it",
    )
    p.add_argument(
        "--memory-budget",
        type=int,
        default=DEFAULT_MEMORY_BUDGET,
        help="recorded only (the record's 'streaming': one score column is larger than this); the passes "
        "always stream, one table per task",
    )
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="select even if some shards of the run's pool have no score table yet (or the pool cannot be "
        "listed); the record then says partial: true",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_engine_arguments(p)  # the passes over the score tables: one table per task
    p.set_defaults(func=run, rules=[])


def run(args: argparse.Namespace) -> int:
    config = SelectConfig(
        rules=tuple(args.rules),
        output=args.output,
        fuse=tuple(args.fuse),
        normalize=args.normalize,
        datacomp_threshold=args.datacomp_threshold,
        memory_budget=args.memory_budget,
        allow_partial=args.allow_partial,
    )
    result = select(args.run_dir, config, make_engine(engine_config(args, "select"), "select"))
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_funnel(result))
    return 0


def format_funnel(result: SelectionResult) -> str:
    lines = [f"{'rule':<48}{'kept':>12}{'of base':>12}{'share':>9}  threshold"]
    for step in result.steps:
        share = step.kept / step.base if step.base else 0.0
        threshold = "" if step.threshold is None else f"{step.threshold:.6g}"
        lines.append(f"{step.rule:<48}{step.kept:>12,}{step.base:>12,}{share:>9.2%}  {threshold}")
    if result.partial:
        missing = result.completeness.get("missing_shards")
        lines.append(
            "PARTIAL: "
            + (
                f"{missing} shard(s) of the pool had no score table"
                if missing is not None
                else "pool not checked"
            )
        )
    lines.append(f"wrote {result.kept:,} uids to {result.output} (funnel in {result.output}.json)")
    return "\n".join(lines)
