"""Scorers, one file each, registered by name in :data:`SCORERS`."""

from pairsift.scorers import clip_score, neg_clip_loss, norm_sim, norm_sim_d, sieve
from pairsift.scorers.base import SCORERS, PoolScorer, Scorer, build_scorer, register

__all__ = [
    "SCORERS",
    "PoolScorer",
    "Scorer",
    "build_scorer",
    "clip_score",
    "neg_clip_loss",
    "norm_sim",
    "norm_sim_d",
    "register",
    "sieve",
]
