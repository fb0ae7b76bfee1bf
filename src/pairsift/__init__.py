"""pairsift: score and select image–text pretraining data for CLIP-style models.

Attributes that need torch (``score``, the scorer registry) are imported on first use, so that
``pairsift select`` and the subset tools start without loading torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "score": "pairsift.api",
    "select": "pairsift.api",
    "reshard": "pairsift.api",
    "run": "pairsift.api",
    "Recipe": "pairsift.recipe",
    "ScoreConfig": "pairsift.stages.score_config",
    "ScorerSpec": "pairsift.stages.score_config",
    "SCORERS": "pairsift.scorers",
    "PoolScorer": "pairsift.scorers",
    "Scorer": "pairsift.scorers",
    "register": "pairsift.scorers",
}

__all__ = [
    "SCORERS",
    "PoolScorer",
    "Recipe",
    "ScoreConfig",
    "Scorer",
    "ScorerSpec",
    "__version__",
    "register",
    "reshard",
    "run",
    "score",
    "select",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pairsift' has no attribute {name!r}")
