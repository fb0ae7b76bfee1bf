"""Which engine runs the per-shard stages, and what each stage's workers hold: :class:`EngineConfig`.

In a recipe::

    engine:
      kind: ray              # local (default) or ray
      workers: 1             # local: shards run in parallel processes, for every stage
      address: null          # ray: null = Ray's own resolution (RAY_ADDRESS, a `ray start` cluster on
                             # this machine, else a new local Ray); "auto", "ray://head:10001", "local"
      retries: 2             # extra attempts of a failed shard before it is reported
      resources:             # per stage: score, embed, caption, reshard, select, report
        score: {cpus: 2, gpus: 0.25, actors: 16}
        embed: {cpus: 5, gpus: 1, batch_size: 512}

The engine, its workers, address, retries, ``cpus``, ``gpus`` and ``actors`` only say *where* shards run; they
never change a result, so a run may be resumed with another engine or other resources. ``batch_size``
(embedding only) is the stage's own batch size option: like ``pairsift embed --batch-size``, it changes
the embeddings' last bits.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pairsift.engines.registry import ENGINES
from pairsift.errors import ConfigError
from pairsift.params import section

#: The per-shard stages; for those where ``batch_size`` is no resource, why not.
STAGES: dict[str, str | None] = {
    "score": "scoring runs no model (a scorer's batch_size, as in neg_clip_loss, is a scorer parameter)",
    "embed": None,
    "caption": "captions are seeded per batch, so the batch size is the caption step's own batch_size option",
    "reshard": "resharding runs no model",
    "select": "selection runs no model (each task holds one score table)",
    "report": "the report's statistics run no model (each task holds one score table)",
}


@dataclass(frozen=True)
class Resources:
    """What one worker (a Ray actor) of a stage reserves, and how many workers run.

    ``cpus``: CPU cores per actor (default: the stage's own, 1 for scoring, decoding processes + 1 for
    embedding); ``gpus``: GPUs per actor, fractions below 1 share a GPU (``0.5``: two actors per GPU);
    ``actors``: how many actors (default: as many as the cluster's CPUs and GPUs fit, at most one per
    shard); ``batch_size``: images per forward pass of the embed stage, overriding its own option.
    """

    cpus: float | None = None
    gpus: float = 0.0
    actors: int | None = None
    batch_size: int | None = None

    def check(self, where: str) -> None:
        if self.cpus is not None and not (_number(self.cpus) and self.cpus > 0):
            raise ConfigError(f"{where}.cpus must be a number > 0, got {self.cpus!r}")
        if not (_number(self.gpus) and self.gpus >= 0):
            raise ConfigError(f"{where}.gpus must be a number >= 0, got {self.gpus!r}")
        if self.gpus > 1 and self.gpus != math.floor(self.gpus):
            raise ConfigError(f"{where}.gpus: more than one GPU must be a whole number, got {self.gpus}")
        for name in ("actors", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not _integer(value) or value < 1):
                raise ConfigError(f"{where}.{name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class EngineConfig:
    """Where per-shard stages run: ``kind`` (an engine name), local worker processes, the Ray address,
    retries, per-stage resources."""

    kind: str = "local"
    workers: int = 1
    address: str | None = None
    retries: int = 2
    resources: Mapping[str, Resources] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ENGINES:
            raise ConfigError(f"unknown engine {self.kind!r}; available: {', '.join(ENGINES.names())}")
        if not _integer(self.workers) or self.workers < 1:
            raise ConfigError(f"engine.workers must be an integer >= 1, got {self.workers!r}")
        if self.address is not None and not isinstance(self.address, str):
            raise ConfigError(f"engine.address must be a string, got {self.address!r}")
        if not _integer(self.retries) or self.retries < 0:
            raise ConfigError(f"engine.retries must be an integer >= 0, got {self.retries!r}")
        for stage, resources in self.resources.items():
            if stage not in STAGES:
                raise ConfigError(
                    f"engine.resources: unknown stage {stage!r}; available: {', '.join(sorted(STAGES))}"
                )
            resources.check(f"engine.resources.{stage}")
            refused = STAGES[stage]
            if resources.batch_size is not None and refused is not None:
                raise ConfigError(f"engine.resources.{stage}.batch_size is not a resource: {refused}")

    def stage(self, name: str) -> Resources:
        """The resources of stage ``name`` (defaults when the recipe does not mention it)."""
        if name not in STAGES:
            raise ConfigError(f"unknown stage {name!r}; available: {', '.join(sorted(STAGES))}")
        return self.resources.get(name, Resources())

    def with_options(self, **changes: Any) -> EngineConfig:
        """A copy with top-level fields changed (``None`` leaves a field as it is)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_dict(cls, raw: Any, where: str = "engine") -> EngineConfig:
        if isinstance(raw, EngineConfig):
            return raw
        raw = section(cls, raw, where)
        resources = raw.get("resources") or {}
        if not isinstance(resources, dict):
            raise ConfigError(f"{where}.resources must be a mapping of stage -> resources, got {resources!r}")
        return cls(
            kind=str(raw.get("kind", "local")),
            workers=raw.get("workers", 1),
            address=raw.get("address"),
            retries=raw.get("retries", 2),
            resources={str(k): _resources(v, f"{where}.resources.{k}") for k, v in resources.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "workers": self.workers,
            "address": self.address,
            "retries": self.retries,
            "resources": {k: dataclasses.asdict(v) for k, v in sorted(self.resources.items())},
        }


def _resources(raw: Any, where: str) -> Resources:
    if isinstance(raw, Resources):
        return raw
    return Resources(**section(Resources, raw, where))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
