"""The ``pairsift`` command line: argument parsing and printing only, over :mod:`pairsift.api` and the stages.

One module per command (``score``, ``select``, ``run``, …), each with ``add_parser(subparsers)``;
:mod:`pairsift.cli.main` puts them together.
"""

from pairsift.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
