"""The ``pairsift`` command line: thin subcommands over the library, with the same parameter names."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pairsift import progress
from pairsift.commands import caption as caption_command
from pairsift.commands import embed as embed_command
from pairsift.commands import report as report_command
from pairsift.commands import reshard as reshard_command
from pairsift.commands import run as run_command
from pairsift.commands import score as score_command
from pairsift.commands import select as select_command
from pairsift.commands import uids as uids_command
from pairsift.commands import world as world_command
from pairsift.commands.score import format_summary, score_config
from pairsift.config import ConfigError
from pairsift.io.fs import InputError
from pairsift.registry import UnknownNameError
from pairsift.run_dir import RunConfigError

logger = logging.getLogger("pairsift")

__all__ = ["build_parser", "format_summary", "main", "score_config"]

USER_ERRORS = (ConfigError, InputError, RunConfigError, UnknownNameError, ValueError, FileNotFoundError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pairsift",
        description="Score and select image-text pretraining data for CLIP-style models "
        "(CLIPScore, negCLIPLoss, NormSim, DataComp subsets). `pairsift COMMAND --help` for details.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = (
        score_command,
        select_command,
        run_command,
        uids_command,
        reshard_command,
        embed_command,
        caption_command,
        world_command,
        report_command,
    )
    for command in commands:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    progress.configure(enabled=not args.quiet)
    try:
        return int(args.func(args))
    except USER_ERRORS as exc:
        logger.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
