"""``pairsift report``: one self-contained HTML page of a run's scores, selections and samples."""

from __future__ import annotations

import argparse
from typing import Any

from pairsift.cli.options import add_engine_arguments, engine_config
from pairsift.engines import make_engine


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write an HTML report of a run: score histograms, selections, overlaps, sample galleries",
        description="One static HTML file (no script, no network; opens from disk). Histograms, statistics, "
        "correlations and overlaps are exact over all rows; the scatter plot and the random galleries use "
        "bounded samples, so the file stays a few MB for any pool size.",
    )
    p.add_argument(
        "run_dir",
        help="run directory written by `pairsift score`; a folder with a bench.json "
        "(`pairsift bench -o OUT`) gets the bench's table and plot, as its own page when it holds no "
        "score tables",
    )
    p.add_argument("-o", "--output", default="report.html", help="HTML file to write (default report.html)")
    p.add_argument(
        "--subset",
        action="append",
        dest="subsets",
        metavar="UIDS.npy",
        help="a subset file to show (repeatable, at most 8; its `pairsift select` record is read from "
        "UIDS.npy.json). Default: RUN_DIR/subsets/*.npy",
    )
    p.add_argument(
        "--images",
        metavar="RAW_INPUT",
        help="raw image shards for thumbnails (webdataset tars, folder, parquet); default: the input "
        "recorded in the pool's embed.json; '' for text-only cards",
    )
    p.add_argument(
        "--labels",
        metavar="LABELS.parquet",
        help="ground-truth labels (uid + a label column); default: labels.parquet beside the raw input "
        "(a tiny world); '' for none",
    )
    p.add_argument("--label-column", default="kind", help="label column of --labels (default kind)")
    p.add_argument("--scatter", metavar="X,Y", help="two score columns for the scatter plot")
    p.add_argument("--sample", type=int, default=5000, help="rows sampled for rank correlations and scatter")
    p.add_argument("--cards", type=int, default=8, help="samples per gallery (default 8)")
    p.add_argument(
        "--duplicate-groups",
        type=int,
        default=4,
        help="galleries of the largest duplicate groups of each dedup column such as semdedup (default 4)",
    )
    p.add_argument("--bins", type=int, default=60, help="histogram bins (default 60)")
    p.add_argument("--seed", type=int, default=0, help="seed of the row sample (default 0)")
    add_engine_arguments(p)  # the passes over the score tables: one table per task
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from pairsift.report import ReportConfig, build_report  # jinja2 and PIL load only when used

    config = ReportConfig(
        run_dir=args.run_dir,
        output=args.output,
        subsets=tuple(args.subsets) if args.subsets else None,
        images=args.images,
        labels=args.labels,
        label_column=args.label_column,
        scatter=ReportConfig.parse_scatter(args.scatter) if args.scatter else None,
        sample=args.sample,
        cards=args.cards,
        duplicate_groups=args.duplicate_groups,
        bins=args.bins,
        seed=args.seed,
    )
    summary = build_report(config, make_engine(engine_config(args, "report"), "report"))
    if summary.rows == 0 and summary.bench:
        print(f"wrote {summary.output} (the bench: {summary.bench} results) in {summary.seconds:.1f}s")
        return 0
    extras = [f"{summary.thumbnails} thumbnails" if summary.images else "text-only cards"]
    if summary.labels:
        extras.append(f"labels from {summary.labels}")
    if summary.bench:
        extras.append(f"the bench's {summary.bench} results")
    print(
        f"wrote {summary.output} ({summary.bytes / 1e6:.2f} MB, {summary.rows:,} rows, "
        f"{len(summary.subsets)} subsets, {', '.join(extras)}) in {summary.seconds:.1f}s"
    )
    return 0
