"""The engine registry: engine name -> :class:`~pairsift.engines.base.Engine` subclass.

Apart so that :mod:`pairsift.engines.config` can check an engine name without importing the engines.
"""

from __future__ import annotations

from typing import Any

from pairsift.registry import Registry

#: engine name -> Engine subclass (``local``, ``ray``; filled by the engine modules as they load)
ENGINES: Registry[Any] = Registry("engine", modules=("pairsift.engines.local", "pairsift.engines.ray_engine"))
