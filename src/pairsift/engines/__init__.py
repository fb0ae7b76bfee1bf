"""Engines decide where per-shard tasks run; the tasks themselves know nothing of engines."""

from pairsift.engines.base import Engine, Outcome, ShardFailure, ShardTask, make_engine
from pairsift.engines.config import STAGES, EngineConfig, Resources
from pairsift.engines.registry import ENGINES

__all__ = [
    "ENGINES",
    "STAGES",
    "Engine",
    "EngineConfig",
    "Outcome",
    "Resources",
    "ShardFailure",
    "ShardTask",
    "make_engine",
]
