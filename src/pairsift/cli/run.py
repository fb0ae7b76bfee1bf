"""``pairsift run`` and ``pairsift recipes``: score, select (and reshard) from one recipe."""

from __future__ import annotations

import argparse
from typing import Any

from pairsift import recipe as recipes
from pairsift.cli.options import add_engine_arguments, add_plugin_argument, engine_overrides, load_plugins
from pairsift.errors import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="score + select (+ reshard) from a recipe file or a built-in recipe",
        description="Run a whole recipe: score the pool, select the subset (RUN_DIR/subset.npy unless "
        "the recipe says otherwise) and, when the recipe has a reshard section, reshard the tars. "
        "A stage that fails stops the run. Built-in recipes: " + ", ".join(recipes.builtin_names()),
    )
    p.add_argument("recipe", help="a recipe YAML file or a built-in recipe name (see `pairsift recipes`)")
    p.add_argument("--pool", help="the pool (sets `pool` and ${pool})")
    p.add_argument("-o", "--output", help="the run directory (sets `output` and ${output})")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a recipe variable")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    add_plugin_argument(p)
    add_engine_arguments(p)
    p.set_defaults(func=run)
    listing = sub.add_parser("recipes", help="list the built-in recipes and where they come from")
    listing.set_defaults(func=list_recipes)


def list_recipes(args: argparse.Namespace) -> int:
    for name in recipes.builtin_names():
        print(f"{name}\n    {recipes.read(name).get('about', '').strip()}\n")
    return 0


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe mapping: read, ``--pool``/``-o``/``--var`` substituted, engine options, ``--set``."""
    raw = recipes.resolve(
        args.recipe, pool=args.pool, output=args.output, variables=dict(_pair(v) for v in args.var)
    )
    return recipes.apply_overrides(engine_overrides(raw, args, "score"), args.set)


def _pair(text: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise ConfigError(f"--var expects NAME=VALUE, got {text!r}")
    return name.strip(), value


def run(args: argparse.Namespace) -> int:
    from pairsift.api import run as run_recipe
    from pairsift.cli.reshard import format_summary as format_reshard
    from pairsift.cli.score import format_summary
    from pairsift.cli.select import format_funnel

    load_plugins(args)
    result = run_recipe(recipes.Recipe.from_dict(resolve(args)))
    print(format_summary(result.score))
    if result.selection is None:
        print("run stopped at the score stage: it failed (see above); nothing was selected")
        return 1
    print(format_funnel(result.selection))
    if result.reshard is not None:
        print(format_reshard(result.reshard))
    return 0 if result.ok else 1
