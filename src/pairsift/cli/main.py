"""The ``pairsift`` command line: thin subcommands over the library, with the same parameter names."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pairsift import plugins, progress
from pairsift.cli import caption, embed, evaluate, report, reshard, run, score, select, train, uids
from pairsift.errors import ConfigError, InputError, OutputError, RunConfigError, StageFailed
from pairsift.registry import UnknownNameError

logger = logging.getLogger("pairsift")

__all__ = ["build_parser", "main"]

#: the built-in commands, in ``--help`` order; each module has ``add_parser(subparsers)``. Installed
#: packages add theirs through the ``pairsift.commands`` entry points (the tiny world adds ``world``
#: and ``demo``).
COMMANDS = (score, select, run, uids, reshard, embed, caption, report, train, evaluate)

USER_ERRORS = (
    ConfigError,
    InputError,
    OutputError,
    RunConfigError,
    UnknownNameError,
    ValueError,
    FileNotFoundError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pairsift",
        description="Score and select image-text pretraining data for CLIP-style models "
        "(CLIPScore, negCLIPLoss, NormSim, DataComp subsets). `pairsift COMMAND --help` for details.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (*COMMANDS, *plugins.command_modules()):
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
    except StageFailed as exc:
        logger.error("%s", exc)
        return 1
    except USER_ERRORS as exc:
        logger.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
