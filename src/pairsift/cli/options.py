"""Options shared by several commands: where shards run (``--engine``, ``--workers``, ``--ray-address``,
per-actor resources), ``--plugin``, how raw images are read (embed, embed-targets, caption), and the byte
caps of every raw reader (``--max-*-bytes``: embed, embed-targets, caption, reshard)."""

from __future__ import annotations

import argparse
from typing import Any

from pairsift.engines import ENGINES, EngineConfig
from pairsift.errors import ConfigError
from pairsift.io.limits import ReadLimits
from pairsift.io.raw import DEFAULT_MAX_PIXELS

#: option -> key of ``engine.resources.<stage>``
RESOURCE_OPTIONS = {"actors": "actors", "cpus_per_actor": "cpus", "gpus_per_actor": "gpus"}


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """Add the engine options; unset ones leave the recipe's ``engine`` section (or the defaults) alone."""
    group = p.add_argument_group(
        "engine", "where shards run; never changes a result, so a run may be resumed with another engine"
    )
    group.add_argument("--engine", choices=ENGINES.names(), help="local (default) or ray")
    group.add_argument(
        "--workers", type=int, metavar="N", help="local: shards run in N parallel processes (default 1)"
    )
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
    options = (("engine", "kind"), ("workers", "workers"), ("ray_address", "address"), ("retries", "retries"))
    for option, key in options:
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


def add_plugin_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this module first, e.g. one that registers a scorer (repeatable); installed packages "
        "can instead declare a `pairsift.scorers` entry point",
    )


def load_plugins(args: argparse.Namespace) -> None:
    """Import the ``--plugin`` modules."""
    from pairsift.plugins import load_modules

    load_modules(getattr(args, "plugin", None) or [])


def add_image_input_arguments(p: argparse.ArgumentParser) -> None:
    """Options of every command that decodes raw images on a device (embed, embed-targets, caption)."""
    p.add_argument(
        "--input-format",
        default="auto",
        choices=["auto", "webdataset", "folder", "parquet"],
        help="input layout (default: detect)",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument(
        "--precision", default="fp32", choices=["fp32", "fp16", "bf16"], help="fp16/bf16 on GPU only"
    )
    p.add_argument(
        "--num-workers",
        type=int,
        default=None,
        help="decoding processes per shard (0: decode inline; default: 0 on CPU, where the model's threads "
        "use every core, 2 on a GPU)",
    )
    p.add_argument(
        "--prefetch", type=int, default=2, help="batches prefetched per decoding process (default 2)"
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images (status image_too_large; default {DEFAULT_MAX_PIXELS})",
    )
    add_limit_arguments(p)


def image_input_options(args: argparse.Namespace) -> dict[str, Any]:
    """The values of :func:`add_image_input_arguments`, named as the stage configs name them."""
    names = ("input_format", "device", "precision", "num_workers", "prefetch", "max_pixels")
    return {**{name: getattr(args, name) for name in names}, "limits": read_limits(args)}


#: option -> (ReadLimits field, what it caps)
LIMIT_OPTIONS = {
    "--max-image-bytes": (
        "max_image_bytes",
        "an image (tar member, file or parquet cell; status image_too_large)",
    ),
    "--max-caption-bytes": ("max_caption_bytes", "a caption (status caption_too_large)"),
    "--max-json-bytes": ("max_json_bytes", "a KEY.json sidecar (status member_too_large)"),
    "--max-shard-bytes": ("max_shard_bytes", "a shard after decompression (the shard fails)"),
}


def add_limit_arguments(p: argparse.ArgumentParser) -> None:
    """The byte caps of every raw reader (:class:`~pairsift.io.limits.ReadLimits`); recorded in the stage's
    record file."""
    group = p.add_argument_group("read limits", "bytes read at most; larger inputs are refused and counted")
    defaults = ReadLimits()
    for option, (name, what) in LIMIT_OPTIONS.items():
        default = getattr(defaults, name)
        group.add_argument(option, type=int, metavar="BYTES", help=f"cap of {what}; default {default}")


def read_limits(args: argparse.Namespace) -> ReadLimits:
    """The :class:`ReadLimits` of the ``--max-*-bytes`` options (defaults where not given)."""
    given = {
        name: getattr(args, name) for name, _ in LIMIT_OPTIONS.values() if getattr(args, name) is not None
    }
    return ReadLimits.from_dict(given)
