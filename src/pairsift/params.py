"""Parameter values from text and YAML: scalars, checked integers and floats, typed config fields.

Every config and scorer parameter passes through here, so that ``--set k=10``, ``NAME:k=10`` and a YAML
``k: 10`` mean the same thing and a wrong value is an error naming the parameter.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import yaml

from pairsift.errors import ConfigError

_TYPES = {"str": str, "int": int}


def check_types(obj: Any, where: str, skip: tuple[str, ...] = ()) -> None:
    """Refuse values of the wrong type (e.g. ``--set compute.workers=two``) with a ConfigError."""
    for f in dataclasses.fields(obj):
        expected = _TYPES.get(str(f.type))
        value = getattr(obj, f.name)
        if f.name in skip or expected is None:
            continue
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ConfigError(f"{where}.{f.name} must be {f.type}, got {value!r}")


def parse_scalar(text: str) -> Any:
    """YAML scalar semantics for CLI values (``10`` -> int, ``0.5`` -> float, ``inf`` stays a string)."""
    try:
        return yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        return text


def int_param(name: str, value: Any, *, minimum: int) -> int:
    """An integer parameter (``10`` or ``"10"``), at least ``minimum``, or an error naming it."""
    try:
        number = int(value)
        exact = not isinstance(value, bool) and number == float(value)
    except (TypeError, ValueError):
        exact = False
    if not exact:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return number


def float_param(name: str, value: Any, *, low: float, high: float = math.inf) -> float:
    """A float parameter in ``(low, high]``, or an error naming it."""
    try:
        number = float(value)
        ok = not isinstance(value, bool) and low < number <= high
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not ok:
        bounds = f"> {low}" if math.isinf(high) else f"in ({low}, {high}]"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return number


def section(kind: type[Any], raw: Any, where: str) -> dict[str, Any]:
    """A recipe section for the dataclass ``kind``: a mapping of its field names (``None``: empty)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where!r} must be a mapping, got {raw!r}")
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown {where} keys {sorted(unknown)}; expected {sorted(known)}")
    return dict(raw)
