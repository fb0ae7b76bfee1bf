"""Scorers, one file each, registered by name in :data:`SCORERS`.

The public extension API: subclass :class:`Scorer` (or :class:`PoolScorer`) and decorate it with
:func:`register` (see docs/architecture.md, "Add a scorer").
"""

from pairsift.scorers.base import SCORERS, PoolScorer, Prerequisite, Scorer, build_scorer, register

__all__ = ["SCORERS", "PoolScorer", "Prerequisite", "Scorer", "build_scorer", "register"]
