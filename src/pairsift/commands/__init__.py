"""Subcommands of the ``pairsift`` command line, one module each."""
