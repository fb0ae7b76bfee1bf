"""A tiny procedurally rendered image–text world: a web-like noisy pool and clean downstream tasks.

``generate(out_dir, WorldConfig(...))`` writes the pool tars, ``labels.parquet`` and the task tars;
see ``docs/world.md``.
"""

from __future__ import annotations

from pairsift.world.attributes import Scene
from pairsift.world.generate import WorldConfig, WorldSummary, generate, with_shares
from pairsift.world.noise import DEFAULT_SHARES, KINDS

__all__ = ["DEFAULT_SHARES", "KINDS", "Scene", "WorldConfig", "WorldSummary", "generate", "with_shares"]
