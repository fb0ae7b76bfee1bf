"""Built-in recipes (YAML files beside this module) and ``${var}`` substitution in recipes.

A recipe is a score recipe (see ``pairsift score --config``) plus ``select`` (rules as in
``pairsift select``) and optionally ``reshard`` ({input, output, shard_size}); ``about`` says where it
comes from; ``vars`` lists its variables with their defaults (``null``: required; a default may itself use
``${pool}``, ``${output}`` or a given variable). ``${pool}`` and ``${output}`` are always available
(``--pool``, ``-o``).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pairsift.config import ConfigError, load_recipe

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def builtin_names() -> list[str]:
    return sorted(
        p.name[: -len(".yaml")] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml")
    )


def load(name_or_path: str) -> dict[str, Any]:
    """A built-in recipe by name, or a YAML file."""
    if name_or_path in builtin_names():
        text = resources.files(__name__).joinpath(f"{name_or_path}.yaml").read_text()
        raw = yaml.safe_load(text)
        assert isinstance(raw, dict)
        return raw
    if not Path(name_or_path).is_file():
        raise ConfigError(
            f"no recipe {name_or_path!r}: not a file, nor a built-in recipe ({', '.join(builtin_names())})"
        )
    return load_recipe(name_or_path)


def substitute(raw: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """Replace ``${name}`` in every string; a required variable without a value is an error."""
    declared = dict(raw.get("vars") or {})
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
    result: dict[str, Any] = walk(body)
    return result


def _lookup(name: str, values: dict[str, Any]) -> str:
    if name not in values:
        raise ConfigError(f"recipe uses ${{{name}}} but no value was given (--var {name}=...)")
    return str(values[name])
