"""``pairsift score`` and ``pairsift scorers``."""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any

from pairsift.cli.options import add_engine_arguments, add_plugin_argument, engine_overrides, load_plugins
from pairsift.plugins import load_modules
from pairsift.recipe import apply_overrides, plugin_modules, read_yaml
from pairsift.stages.base import retried_lines
from pairsift.stages.score_config import ScoreConfig

if TYPE_CHECKING:
    from pairsift.stages.score import ScoreSummary


def add_parser(sub: Any) -> None:
    add_score_parser(sub)
    add_scorers_parser(sub)


def add_score_parser(sub: Any) -> None:
    p = sub.add_parser(
        "score",
        help="score a pool from its embeddings",
        description="Score every shard of a pool; rerunning into the same RUN_DIR resumes.",
    )
    p.add_argument("pool", nargs="?", help="pool directory or fsspec URL (or set 'pool' in --config)")
    p.add_argument("-o", "--output", help="run directory (scores/<shard>.parquet, run.json)")
    p.add_argument("--embeddings", help="embedding family: l14, b32 or any npz key prefix (default l14)")
    p.add_argument(
        "--scorer",
        action="append",
        metavar="SPEC",
        help="NAME or NAME:key=value,... (repeatable), e.g. norm_sim:p=inf,target=in1k.npy; "
        "`pairsift scorers` lists the names",
    )
    p.add_argument("--config", help="YAML recipe with the same keys; command-line values override it")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe key, e.g. engine.workers=2 or scorers.1.k=5 (repeatable)",
    )
    p.add_argument("--source", help="auto (default), datacomp or parquet")
    p.add_argument("--uid-column", help="parquet source: uid column (default uid)")
    p.add_argument("--image-column", help="parquet source: image embedding column (default image_embedding)")
    p.add_argument("--text-column", help="parquet source: text embedding column (default text_embedding)")
    p.add_argument("--device", help="cpu, cuda[:N] or auto (default)")
    p.add_argument("--precision", help="fp32 (default); bf16 or fp16 matmuls on GPU only")
    p.add_argument("--seed", type=int, help="run seed for randomised scorers (default 0)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_plugin_argument(p)
    add_engine_arguments(p)
    p.set_defaults(func=cmd_score)


def score_config(args: argparse.Namespace) -> ScoreConfig:
    raw: dict[str, Any] = read_yaml(args.config) if args.config else {}
    load_modules(plugin_modules(raw.pop("plugins", None)))  # a recipe's plugins, like --plugin
    for key in ("pool", "output", "embeddings", "seed"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    if args.scorer:
        raw["scorers"] = list(args.scorer)
    for section, keys in (
        (
            "source",
            {
                "source": "kind",
                "uid_column": "uid_column",
                "image_column": "image_column",
                "text_column": "text_column",
            },
        ),
        ("compute", {"device": "device", "precision": "precision"}),
    ):
        for arg, key in keys.items():
            if getattr(args, arg) is not None:
                raw.setdefault(section, {})[key] = getattr(args, arg)
    engine_overrides(raw, args, "score")
    return ScoreConfig.from_dict(apply_overrides(raw, args.set))


def cmd_score(args: argparse.Namespace) -> int:
    from pairsift.stages.score import score

    load_plugins(args)
    summary = score(score_config(args))
    print(json.dumps(summary_dict(summary), indent=2) if args.json else format_summary(summary))
    return 0 if summary.ok else 1


def summary_dict(summary: ScoreSummary) -> dict[str, Any]:
    return {
        "run_dir": summary.output,
        "shards": summary.shards,
        "scored": summary.processed,
        "skipped": summary.skipped,
        "rows": summary.rows,
        "statuses": summary.statuses,
        "columns": {
            name: {
                k: (int(v) if k == "scored" else v if math.isfinite(v) else None) for k, v in stats.items()
            }
            for name, stats in summary.columns.items()
        },
        "failures": [{"shard": f.shard, "error": f.error} for f in summary.failures],
        "retried": summary.retried,
        "duplicate_uids": summary.duplicates,
        "seconds": round(summary.seconds, 3),
    }


def format_summary(summary: ScoreSummary) -> str:
    lines = [
        f"run directory: {summary.output}",
        f"shards: {summary.shards} ({summary.processed} scored now, {summary.skipped} already done), "
        f"rows: {summary.rows}, {summary.seconds:.1f}s",
        "status: " + ", ".join(f"{k}={v}" for k, v in summary.statuses.items()),
        f"{'column':<24}{'scored':>10}{'mean':>10}{'min':>10}{'max':>10}",
    ]
    for name, s in summary.columns.items():
        lines.append(f"{name:<24}{int(s['scored']):>10}{s['mean']:>10.4f}{s['min']:>10.4f}{s['max']:>10.4f}")
    if summary.duplicates.get("rows"):
        d = summary.duplicates
        lines.append(
            f"duplicate uids: {d['rows']} rows repeat {d['uids']} uids seen earlier in the pool "
            f"(status duplicate_uid, NaN scores), e.g. {', '.join(d['examples'][:3])}"
        )
    lines += retried_lines(summary.retried)
    for f in summary.failures:
        lines.append(f"FAILED {f.shard}: {f.error}")
    return "\n".join(lines)


def add_scorers_parser(sub: Any) -> None:
    p = sub.add_parser("scorers", help="list the registered scorers")
    add_plugin_argument(p)
    p.set_defaults(func=cmd_scorers)


def cmd_scorers(args: argparse.Namespace) -> int:
    from pairsift.scorers import SCORERS

    load_plugins(args)
    for name in SCORERS.names():
        doc = next(iter((SCORERS.get(name).__doc__ or "").strip().splitlines()), "")
        print(f"{name:<16}{doc}")
    for alias, name in sorted(SCORERS.aliases().items()):
        print(f"{alias:<16}another name of {name}")
    return 0
