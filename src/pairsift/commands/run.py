"""``pairsift run`` and ``pairsift recipes``: score, select (and reshard) from one recipe."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pairsift import recipes
from pairsift.commands.engine_options import add_engine_arguments, engine_overrides
from pairsift.config import ConfigError, ScoreConfig, apply_overrides
from pairsift.engines import EngineConfig
from pairsift.select.selection import SelectConfig, select


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="score + select (+ reshard) from a recipe file or a built-in recipe",
        description="Run a whole recipe: score the pool, select the subset (RUN_DIR/subset.npy unless "
        "the recipe says otherwise) and, when the recipe has a reshard section, reshard the tars. "
        "Built-in recipes: " + ", ".join(recipes.builtin_names()),
    )
    p.add_argument("recipe", help="a recipe YAML file or a built-in recipe name (see `pairsift recipes`)")
    p.add_argument("--pool", help="the pool (sets `pool` and ${pool})")
    p.add_argument("-o", "--output", help="the run directory (sets `output` and ${output})")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a recipe variable")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    add_engine_arguments(p)
    p.set_defaults(func=run)
    listing = sub.add_parser("recipes", help="list the built-in recipes and where they come from")
    listing.set_defaults(func=list_recipes)


def list_recipes(args: argparse.Namespace) -> int:
    for name in recipes.builtin_names():
        print(f"{name}\n    {recipes.load(name).get('about', '').strip()}\n")
    return 0


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    values = dict(_pair(v) for v in args.var)
    raw = recipes.load(args.recipe)
    for key in ("pool", "output"):
        value = getattr(args, key)
        if value is not None:
            raw[key] = value
            values[key] = value
    raw = engine_overrides(recipes.substitute(raw, values), args, "score")
    return apply_overrides(raw, args.set)


def _pair(text: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise ConfigError(f"--var expects NAME=VALUE, got {text!r}")
    return name.strip(), value


def run(args: argparse.Namespace) -> int:
    raw = resolve(args)
    select_raw = raw.pop("select", None) or {}
    reshard_raw = raw.pop("reshard", None)
    config = ScoreConfig.from_dict(raw)
    selection = SelectConfig.from_dict(select_raw, output=select_raw.get("output") or _default_subset(config))
    selection.parsed_rules()  # refuse bad rules before scoring
    from pairsift.commands.score import format_summary
    from pairsift.pipeline import score

    summary = score(config)
    print(format_summary(summary))
    if not summary.ok:
        return 1
    from pairsift.commands.select import format_funnel

    print(format_funnel(select(config.output, selection)))
    if reshard_raw:
        return _reshard(reshard_raw, selection.output, config.engine)
    return 0


def _default_subset(config: ScoreConfig) -> str:
    return str(Path(config.output) / "subset.npy")


def _reshard(raw: dict[str, Any], subset: str, engine: EngineConfig) -> int:
    from pairsift.commands.reshard import format_summary
    from pairsift.reshard import reshard

    unknown = set(raw) - {"input", "output", "shard_size", "workers"}
    if unknown or "input" not in raw or "output" not in raw:
        raise ConfigError(f"reshard needs input, output (optional: shard_size, workers); got {sorted(raw)}")
    summary = reshard(
        str(raw["input"]),
        subset,
        str(raw["output"]),
        shard_size=int(raw.get("shard_size", 10000)),
        workers=int(raw.get("workers", 1)),
        engine=engine,
    )
    print(format_summary(summary))
    return 0 if summary.ok else 1
