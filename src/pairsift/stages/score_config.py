"""The score section of a recipe: which scorers (:class:`ScorerSpec`), on which pool, on which device.

Plain dataclasses, importable without torch, so that the CLI can parse a recipe before loading a model.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from pairsift.engines.config import EngineConfig
from pairsift.errors import ConfigError
from pairsift.io.sources import SourceConfig
from pairsift.params import check_types, parse_scalar, section

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScorerSpec:
    """A scorer by registry name plus its keyword parameters."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | dict[str, Any] | ScorerSpec) -> ScorerSpec:
        """Accept ``NAME``, ``NAME:k=v,k=v``, ``{kind: NAME, k: v}`` or ``{NAME: {k: v}}``."""
        if isinstance(spec, ScorerSpec):
            return spec
        if isinstance(spec, dict):
            return cls._from_mapping(spec)
        if not isinstance(spec, str) or not spec.strip():
            raise ConfigError(f"scorer spec must be a non-empty string or mapping, got {spec!r}")
        kind, _, rest = spec.partition(":")
        params: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ConfigError(f"scorer spec {spec!r}: expected key=value, got {item!r}")
            params[key.strip()] = parse_scalar(value.strip())
        return cls(kind.strip(), params)

    @classmethod
    def _from_mapping(cls, spec: dict[str, Any]) -> ScorerSpec:
        if "kind" in spec:
            params = {k: v for k, v in spec.items() if k != "kind"}
            return cls(str(spec["kind"]), params)
        if len(spec) == 1:
            ((kind, params),) = spec.items()
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise ConfigError(f"scorer {kind!r}: parameters must be a mapping, got {params!r}")
            return cls(str(kind), dict(params))
        raise ConfigError(f"scorer mapping needs a 'kind' key or a single NAME: {{params}} entry: {spec!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.params}


@dataclass(frozen=True)
class ComputeConfig:
    """Where and how kernels run. ``device`` does not change results; how many shards run at once is
    the engine's (``engine.workers``)."""

    device: str = "auto"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        check_types(self, "compute")


@dataclass(frozen=True)
class ScoreConfig:
    """Everything a ``pairsift score`` run needs."""

    pool: str
    output: str
    embeddings: str = "l14"
    scorers: tuple[ScorerSpec, ...] = ()
    source: SourceConfig = field(default_factory=SourceConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    seed: int = 0
    engine: EngineConfig = field(default_factory=EngineConfig)  #: where shards run; never changes a score

    def __post_init__(self) -> None:
        check_types(self, "recipe", skip=("scorers", "source", "compute", "engine"))
        if not self.scorers:
            raise ConfigError("no scorer given; add at least one (e.g. --scorer clip_score)")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ScoreConfig:
        raw = dict(raw)
        unknown = set(raw) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(
                f"unknown recipe keys {sorted(unknown)}; expected {[f.name for f in dataclasses.fields(cls)]}"
            )
        for key in ("pool", "output"):
            if not raw.get(key):
                raise ConfigError(f"recipe is missing {key!r}")
        scorers = raw.get("scorers") or []
        if not isinstance(scorers, list):
            raise ConfigError(f"'scorers' must be a list, got {type(scorers).__name__}")
        compute, engine = _moved_workers(raw.get("compute"), raw.get("engine"))
        return cls(
            pool=str(raw["pool"]),
            output=str(raw["output"]),
            embeddings=str(raw.get("embeddings", "l14")),
            scorers=tuple(ScorerSpec.parse(s) for s in scorers),
            source=_sub(SourceConfig, raw.get("source"), "source"),
            compute=_sub(ComputeConfig, compute, "compute"),
            seed=raw.get("seed", 0),
            engine=EngineConfig.from_dict(engine),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "output": self.output,
            "embeddings": self.embeddings,
            "scorers": [s.to_dict() for s in self.scorers],
            "source": dataclasses.asdict(self.source),
            "compute": dataclasses.asdict(self.compute),
            "seed": self.seed,
            "engine": self.engine.to_dict(),
        }


def _sub(kind: type[Any], raw: Any, where: str) -> Any:
    return kind(**section(kind, raw, where))


def _moved_workers(compute: Any, engine: Any) -> tuple[Any, Any]:
    """``compute.workers`` (before 0.2) is ``engine.workers`` now: moved, with a deprecation warning."""
    if not isinstance(compute, dict) or "workers" not in compute:
        return compute, engine
    compute = dict(compute)
    workers = compute.pop("workers")
    logger.warning(
        "compute.workers is deprecated: the engine section owns local parallelism (engine.workers)"
    )
    if engine is None:
        engine = {}
    if isinstance(engine, dict) and "workers" not in engine:
        engine = {**engine, "workers": workers}
    return compute, engine
