"""One typed :class:`Recipe`: a score section, a select section and an optional reshard section, one
engine for all of them, plugins to load; reading one (built-in by name, or a YAML file), ``${var}``
substitution and ``--set`` overrides.

A recipe file is the score section's keys at the top level (``pool``, ``output``, ``embeddings``,
``scorers``, ``source``, ``compute``, ``seed``, ``engine``; see ``pairsift score --config``) plus
``select`` (rules as in ``pairsift select``), optionally ``reshard`` ({input, output, shard_size}) and
``plugins`` (modules to import, like ``--plugin``); ``about`` says where it comes from; ``vars`` lists
its variables with their defaults (``null``: required; a default may itself use ``${pool}``,
``${output}`` or a given variable). ``${pool}`` and ``${output}`` are always available (``--pool``,
``-o``). The built-in recipes are the YAML files of ``pairsift/recipes/``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pairsift.errors import ConfigError
from pairsift.io.limits import ReadLimits
from pairsift.io.location import output_path
from pairsift.params import parse_scalar
from pairsift.select.selection import SelectConfig
from pairsift.stages.reshard import ReshardConfig
from pairsift.stages.score_config import ScoreConfig, ScorerSpec

logger = logging.getLogger(__name__)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: keys of a recipe file besides the score section's
SECTIONS = ("select", "reshard", "plugins")
RESHARD_KEYS = ("input", "output", "shard_size", "layout", "workers", "limits")


@dataclass(frozen=True)
class Recipe:
    """What ``pairsift run`` does: score, then select, then (optionally) reshard, on one engine."""

    score: ScoreConfig
    select: SelectConfig
    reshard: ReshardConfig | None = None
    plugins: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Recipe:
        """Validate a resolved recipe mapping (variables substituted, overrides applied)."""
        raw = dict(raw)
        sections = {key: raw.pop(key, None) for key in SECTIONS}
        score = ScoreConfig.from_dict(raw)
        select_raw = sections["select"] or {}
        if not isinstance(select_raw, dict):
            raise ConfigError(f"'select' must be a mapping, got {select_raw!r}")
        output = select_raw.get("output") or str(output_path(score.output) / "subset.npy")
        select = SelectConfig.from_dict(select_raw, output=output)
        select.parsed_rules()  # refuse bad rules before anything runs
        return cls(
            score,
            select,
            _reshard(sections["reshard"], select.output, score),
            plugin_modules(sections["plugins"]),
        )


def _reshard(raw: Any, subset: str, score: ScoreConfig) -> ReshardConfig | None:
    if not raw:
        return None
    if not isinstance(raw, dict) or set(raw) - set(RESHARD_KEYS) or not {"input", "output"} <= set(raw):
        got = sorted(raw) if isinstance(raw, dict) else raw
        raise ConfigError(f"reshard needs input, output (optional: shard_size, layout, limits); got {got}")
    engine = score.engine
    if "workers" in raw:  # before 0.2 the reshard section had its own; the engine owns it now
        logger.warning(
            "reshard.workers is deprecated: the engine section owns local parallelism (engine.workers)"
        )
        engine = engine.with_options(workers=int(raw["workers"]))
    return ReshardConfig(
        str(raw["input"]),
        subset,
        str(raw["output"]),
        int(raw.get("shard_size", 10000)),
        engine,
        layout=str(raw.get("layout", "pairsift")),
        limits=ReadLimits.from_dict(raw.get("limits")),
    )


def plugin_modules(raw: Any) -> tuple[str, ...]:
    """A recipe's ``plugins``: one module name or a list of them."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw):
        raise ConfigError(f"'plugins' must be a list of module names, got {raw!r}")
    return tuple(raw)


def resolve(
    name_or_path: str,
    *,
    pool: str | None = None,
    output: str | None = None,
    variables: dict[str, str] | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """A recipe mapping ready for :meth:`Recipe.from_dict`: read, ``pool``/``output`` set, ``${var}``
    substituted, then ``--set`` overrides applied."""
    values = dict(variables or {})
    raw = read(name_or_path)
    for key, value in (("pool", pool), ("output", output)):
        if value is not None:
            raw[key] = value
            values[key] = value
    return apply_overrides(substitute(raw, values), list(overrides))


def builtin_names() -> list[str]:
    """The built-in recipes (``pairsift recipes``)."""
    return sorted(p.name[: -len(".yaml")] for p in _builtin_dir().iterdir() if p.name.endswith(".yaml"))


def _builtin_dir() -> Any:
    return resources.files("pairsift").joinpath("recipes")


def read(name_or_path: str) -> dict[str, Any]:
    """A built-in recipe by name, or a YAML file, as a plain mapping."""
    if name_or_path in builtin_names():
        raw = yaml.safe_load(_builtin_dir().joinpath(f"{name_or_path}.yaml").read_text())
        assert isinstance(raw, dict)
        return raw
    if not Path(name_or_path).is_file():
        raise ConfigError(
            f"no recipe {name_or_path!r}: not a file, nor a built-in recipe ({', '.join(builtin_names())})"
        )
    return read_yaml(name_or_path)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML recipe into a plain mapping (validated later by :meth:`Recipe.from_dict`)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read recipe {path}: {' '.join(str(exc).split())}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe {path}: expected a mapping at the top level")
    return raw


def substitute(raw: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """Replace ``${name}`` in every string; a required variable without a value is an error."""
    declared = raw.get("vars") or {}
    if not isinstance(declared, dict):
        raise ConfigError(f"'vars' must be a mapping of variable names to defaults, got {declared!r}")
    defaults = {k: v for k, v in declared.items() if v is not None and k not in values}
    # a default may name ``${pool}``, ``${output}`` or a given variable, e.g. ``captions: ${output}/captions``
    defaults = {k: _VAR.sub(lambda m: _lookup(m.group(1), values), str(v)) for k, v in defaults.items()}
    merged = {**defaults, **values}
    missing = sorted(k for k, v in declared.items() if v is None and k not in values)
    if missing:
        raise ConfigError(f"this recipe needs {', '.join(f'--var {m}=...' for m in missing)}")

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return _VAR.sub(lambda m: _lookup(m.group(1), merged), node)
        if isinstance(node, list):
            return [walk(x) for x in node]
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        return node

    body = {k: v for k, v in raw.items() if k not in ("vars", "about")}
    try:
        result: dict[str, Any] = walk(body)
    except RecursionError as exc:  # a YAML alias that contains itself (``a: &x [*x]``)
        raise ConfigError("the recipe is nested too deeply or refers to itself (a YAML alias)") from exc
    return result


def _lookup(name: str, values: dict[str, Any]) -> str:
    if name not in values:
        raise ConfigError(f"recipe uses ${{{name}}} but no value was given (--var {name}=...)")
    return str(values[name])


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
