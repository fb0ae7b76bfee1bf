"""Engines decide where per-shard tasks run; the tasks themselves know nothing of engines."""

from pairsift.engines.base import ENGINES, Engine, ShardFailure, build_engine
from pairsift.engines.local import LocalEngine

__all__ = ["ENGINES", "Engine", "LocalEngine", "ShardFailure", "build_engine"]
