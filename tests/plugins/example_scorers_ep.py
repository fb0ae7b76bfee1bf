"""The plugin of the entry-point test: a fresh module (never imported by the other tests), so its
registration happens only when ``pairsift.plugins.load_installed`` imports it."""

from __future__ import annotations

from pairsift.scorers import register
from tests.plugins.example_scorers import NormGap

COLUMN = "ep_norm_gap"


@register(COLUMN)
class EntryPointNormGap(NormGap):
    """The same score as ``text_norm_gap``, registered by an installed package's entry point."""
