"""``pairsift uids``: inspect, convert and combine uid lists (DataComp subset files, text, parquet)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pairsift.io.uid_files import SubsetInfo, combine_files, convert, info

FORMATS_HELP = (
    "Files: .txt = one 32-hex uid per line; .parquet = a 'uid' string column; any other name = a "
    "DataComp subset file (np.save of sorted u8,u8 (hi, lo) uids, or a raw memmap of that dtype). "
    "A uid listed twice means the sample is written twice; duplicates are kept. See docs/subsets.md."
)

SET_HELP = {
    "intersect": "uids in every input; each as many times as in the input listing it least",
    "union": "uids in any input; each as many times as in the input listing it most",
    "diff": "uids of the first input, each its count there minus its counts in all the others "
    "(floored at 0): a uid listed twice in A and once in B stays once",
}

MULTISET_HELP = (
    "Duplicates count as in collections.Counter (multiset semantics): union = largest count, "
    "intersect = smallest count, diff A B... = count in A minus the counts in the others, floored at 0. "
    "The output is sorted; its format follows the name of -o (.npy, .txt or .parquet)."
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "uids",
        help="inspect, convert and combine uid subset files",
        description="Inspect, convert and combine uid lists. " + FORMATS_HELP,
    )
    commands = p.add_subparsers(dest="uids_command", required=True, metavar="COMMAND")
    _add_info(commands)
    _add_convert(commands)
    for operation, summary in SET_HELP.items():
        _add_set_operation(commands, operation, summary)


def _add_info(commands: Any) -> None:
    p = commands.add_parser(
        "info",
        help="counts, duplicates, sortedness, format and uid range of each file",
        description="Report, for each file: rows, distinct uids, duplicated uids and extra copies, whether "
        "the rows are sorted as stored, the format and the smallest and largest uid. " + FORMATS_HELP,
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per file")
    p.set_defaults(func=run_info)


def _add_convert(commands: Any) -> None:
    p = commands.add_parser(
        "convert",
        help="convert between .npy subset files, .txt and .parquet uid lists",
        description="Convert IN to the format named by OUT's suffix (.npy, .txt, .parquet). Duplicates are "
        "kept; .npy output is sorted, text and parquet output keep the input order (subset files are "
        "read sorted). A malformed uid is an error naming its line or row. " + FORMATS_HELP,
    )
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_convert)


def _add_set_operation(commands: Any, operation: str, summary: str) -> None:
    p = commands.add_parser(
        operation,
        help=summary,
        description=f"{operation}: {summary}. {MULTISET_HELP} {FORMATS_HELP}",
    )
    p.add_argument("first", metavar="FILE")
    p.add_argument("others", nargs="+", metavar="FILE")
    p.add_argument("-o", "--output", required=True, help="file to write (.npy, .txt or .parquet)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_set_operation, operation=operation)


def run_info(args: argparse.Namespace) -> int:
    reports = [info(path) for path in args.files]
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        print("\n\n".join(format_info(r) for r in reports))
    return 0


def format_info(report: SubsetInfo) -> str:
    return "\n".join(
        [
            f"{report.path}",
            f"  format:     {report.format}",
            f"  rows:       {report.count}",
            f"  distinct:   {report.distinct}",
            f"  duplicated: {report.duplicated} uids listed more than once, {report.extra_copies} extra "
            f"copies, at most {report.max_copies} copies of one uid",
            f"  sorted:     {'yes' if report.sorted else 'no'} (as stored)",
            f"  first uid:  {report.first_uid or '-'}",
            f"  last uid:   {report.last_uid or '-'}",
        ]
    )


def run_convert(args: argparse.Namespace) -> int:
    result = convert(args.input, args.output)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(
            f"{result.source} ({result.source_format}) -> {result.output} ({result.output_format}): "
            f"{result.count} uids"
        )
    return 0


def run_set_operation(args: argparse.Namespace) -> int:
    result = combine_files(args.operation, [args.first, *args.others], args.output)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        inputs = ", ".join(f"{p} ({n})" for p, n in zip(result.inputs, result.input_counts, strict=True))
        counts = f"{result.count} uids ({result.distinct} distinct)"
        print(f"{result.operation} of {inputs} -> {result.output}: {counts}")
    return 0
