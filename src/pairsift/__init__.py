"""pairsift: score and select image–text pretraining data for CLIP-style models."""

from pairsift.api import score
from pairsift.config import ScoreConfig, ScorerSpec
from pairsift.scorers import SCORERS, PoolScorer, Scorer, register

__version__ = "0.1.0"

__all__ = ["SCORERS", "PoolScorer", "ScoreConfig", "Scorer", "ScorerSpec", "__version__", "register", "score"]
