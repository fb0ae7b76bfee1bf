"""Typed configuration of a scoring run: parsing of CLI specs, YAML recipes and ``--set`` overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pairsift.engines.config import EngineConfig
from pairsift.errors import ConfigError

_TYPES = {"str": str, "int": int}


def _check_types(obj: Any, where: str, skip: tuple[str, ...] = ()) -> None:
    """Refuse values of the wrong type (e.g. ``--set compute.workers=two``) with a ConfigError."""
    for f in dataclasses.fields(obj):
        expected = _TYPES.get(str(f.type))
        value = getattr(obj, f.name)
        if f.name in skip or expected is None:
            continue
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ConfigError(f"{where}.{f.name} must be {f.type}, got {value!r}")


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


def parse_scalar(text: str) -> Any:
    """YAML scalar semantics for CLI values (``10`` -> int, ``0.5`` -> float, ``inf`` stays a string)."""
    try:
        return yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        return text


@dataclass(frozen=True)
class SourceConfig:
    """Where shards come from. ``kind`` is a source registry name, or ``auto``."""

    kind: str = "auto"
    uid_column: str = "uid"
    image_column: str = "image_embedding"
    text_column: str = "text_embedding"
    alt_text_column: str = "text"  #: the caption string (SIEVE reads it), in both source kinds

    def __post_init__(self) -> None:
        _check_types(self, "source")


@dataclass(frozen=True)
class ComputeConfig:
    """Where and how kernels run. ``device`` and ``workers`` do not change results."""

    device: str = "auto"
    precision: str = "fp32"
    workers: int = 1

    def __post_init__(self) -> None:
        _check_types(self, "compute")
        if self.workers < 1:
            raise ConfigError(f"compute.workers must be >= 1, got {self.workers}")


@dataclass(frozen=True)
class ScoreConfig:
    """Everything a ``pairsift score`` run needs."""

    pool: str
    output: str
    embeddings: str = "l14"
    scorers: tuple[ScorerSpec, ...] = ()
    source: SourceConfig = SourceConfig()
    compute: ComputeConfig = ComputeConfig()
    seed: int = 0
    engine: EngineConfig = field(default_factory=EngineConfig)  #: where shards run; never changes a score

    def __post_init__(self) -> None:
        _check_types(self, "recipe", skip=("scorers", "source", "compute", "engine"))
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
        return cls(
            pool=str(raw["pool"]),
            output=str(raw["output"]),
            embeddings=str(raw.get("embeddings", "l14")),
            scorers=tuple(ScorerSpec.parse(s) for s in scorers),
            source=_sub(SourceConfig, raw.get("source"), "source"),
            compute=_sub(ComputeConfig, raw.get("compute"), "compute"),
            seed=raw.get("seed", 0),
            engine=EngineConfig.from_dict(raw.get("engine")),
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
    if raw is None:
        return kind()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where!r} must be a mapping, got {raw!r}")
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown {where} keys {sorted(unknown)}; expected {sorted(known)}")
    return kind(**raw)


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a YAML recipe into a plain dict (validated later by :meth:`ScoreConfig.from_dict`)."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read recipe {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe {path}: expected a mapping at the top level")
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides; list items are addressed by index (``scorers.1.k=5``)."""
    for item in overrides:
        path, eq, value = item.partition("=")
        if not eq or not path:
            raise ConfigError(f"--set expects KEY.PATH=VALUE, got {item!r}")
        keys = path.split(".")
        node: Any = raw
        for i, key in enumerate(keys[:-1]):
            node = _step(node, key, path, create=True, next_key=keys[i + 1])
        _assign(node, keys[-1], parse_scalar(value), path)
    return raw


def _step(node: Any, key: str, path: str, *, create: bool, next_key: str) -> Any:
    if isinstance(node, list):
        i = _index(node, key, path)
        if isinstance(node[i], (str, dict)) and path.startswith("scorers."):
            node[i] = ScorerSpec.parse(node[i]).to_dict()  # NAME:k=v strings become mappings
        return node[i]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {path}: {key!r} is inside a scalar")
    if key not in node and create:
        node[key] = {}
    return node[key]


def _assign(node: Any, key: str, value: Any, path: str) -> None:
    if isinstance(node, list):
        node[_index(node, key, path)] = value
    elif isinstance(node, dict):
        node[key] = value
    else:
        raise ConfigError(f"--set {path}: cannot set {key!r} on a scalar")


def _is_index(key: str) -> bool:
    return key.lstrip("-").isdigit()


def _index(node: list[Any], key: str, path: str) -> int:
    if not _is_index(key):
        raise ConfigError(f"--set {path}: {key!r} is not a list index")
    i = int(key)
    if not -len(node) <= i < len(node):
        raise ConfigError(f"--set {path}: index {i} is out of range (list has {len(node)} items)")
    return i
