"""``--engine``, ``--ray-address`` and per-actor resources: the options of every command that maps shards."""

from __future__ import annotations

import argparse
from typing import Any

from pairsift.engines import ENGINES, EngineConfig
from pairsift.errors import ConfigError

#: option -> key of ``engine.resources.<stage>``
RESOURCE_OPTIONS = {"actors": "actors", "cpus_per_actor": "cpus", "gpus_per_actor": "gpus"}


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """Add the engine options; unset ones leave the recipe's ``engine`` section (or the defaults) alone."""
    group = p.add_argument_group(
        "engine", "where shards run; never changes a result, so a run may be resumed with another engine"
    )
    group.add_argument("--engine", choices=ENGINES.names(), help="local (default) or ray")
    group.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="Ray cluster to join: auto, HOST:PORT or ray://HOST:10001 (default: RAY_ADDRESS, a cluster "
        "started on this machine by `ray start`, else a new local Ray)",
    )
    group.add_argument(
        "--actors", type=int, metavar="N", help="ray: actors for this stage (default: as many as fit)"
    )
    group.add_argument("--cpus-per-actor", type=float, metavar="C", help="ray: CPU cores per actor")
    group.add_argument(
        "--gpus-per-actor",
        type=float,
        metavar="G",
        help="ray: GPUs per actor; 0.5 puts two actors on one GPU",
    )
    group.add_argument(
        "--retries", type=int, metavar="N", help="ray: extra attempts of a failed shard (default 2)"
    )


def engine_overrides(raw: dict[str, Any], args: argparse.Namespace, stage: str) -> dict[str, Any]:
    """Write the given engine options into a recipe mapping's ``engine`` section (for ``stage``)."""
    section = _section(raw)
    for option, key in (("engine", "kind"), ("ray_address", "address"), ("retries", "retries")):
        if getattr(args, option) is not None:
            section[key] = getattr(args, option)
    given = {key: getattr(args, option) for option, key in RESOURCE_OPTIONS.items()}
    given = {key: value for key, value in given.items() if value is not None}
    if given:
        resources = section["resources"] = dict(section.get("resources") or {})
        resources[stage] = {**(resources.get(stage) or {}), **given}
    return raw


def engine_config(args: argparse.Namespace, stage: str) -> EngineConfig:
    """An :class:`EngineConfig` from the options alone (commands without a recipe)."""
    return EngineConfig.from_dict(engine_overrides({}, args, stage).get("engine"))


def _section(raw: dict[str, Any]) -> dict[str, Any]:
    section = raw.get("engine") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"'engine' must be a mapping, got {section!r}")
    raw["engine"] = section
    return section
