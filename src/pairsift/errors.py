"""Errors shared by modules that must not import each other (``pairsift.config`` and ``pairsift.engines``)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A recipe, spec or override that cannot be understood."""
