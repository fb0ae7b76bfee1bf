"""Engines decide where per-shard tasks run; the tasks themselves know nothing of engines."""

from pairsift.engines.base import ENGINES, Engine, Outcome, ShardFailure, ShardTask, build_engine
from pairsift.engines.config import STAGES, EngineConfig, Resources, make_engine
from pairsift.engines.local import LocalEngine
from pairsift.engines.ray_engine import RayEngine

__all__ = [
    "ENGINES",
    "STAGES",
    "Engine",
    "EngineConfig",
    "LocalEngine",
    "Outcome",
    "RayEngine",
    "Resources",
    "ShardFailure",
    "ShardTask",
    "build_engine",
    "make_engine",
]
