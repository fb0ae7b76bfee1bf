"""Plugins: modules that register scorers, model ids, engines or commands into pairsift's registries.

Two ways in:

- installed packages declare an entry point in the group ``pairsift.plugins`` (or ``pairsift.scorers``)
  naming a module; :func:`load_installed` imports every such module once, the first time a registry
  is asked for a name it does not know, in any process (so worker processes and Ray actors find them too);
- ``--plugin MODULE`` on the command line (``plugins:`` in a recipe) imports a module by name with
  :func:`load_modules`. Scorer objects travel to workers by value, so a worker imports the module of a
  scorer's class as it unpickles it.

pairsift's own tiny world registers its ``pairsift:`` models through the first way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib import import_module, metadata
from typing import Any

from pairsift.errors import ConfigError

logger = logging.getLogger(__name__)

#: entry-point groups whose modules are imported by :func:`load_installed`
GROUPS = ("pairsift.plugins", "pairsift.scorers")
#: entry-point group of command modules (``add_parser(subparsers)``), loaded by the CLI only
COMMANDS = "pairsift.commands"

_state = {"loaded": False}


def load_installed() -> list[str]:
    """Import every module named by an entry point of :data:`GROUPS` (once per process).

    A plugin that fails to import is logged with its error and skipped: one broken package does not
    stop the others. Returns the entry points loaded now.
    """
    if _state["loaded"]:
        return []
    _state["loaded"] = True
    loaded = []
    for group in GROUPS:
        for entry in metadata.entry_points(group=group):
            try:
                entry.load()
            except Exception as exc:  # a broken plugin is reported, the others load
                logger.warning("plugin %s (%s = %s) failed to load: %s", group, entry.name, entry.value, exc)
                continue
            loaded.append(f"{group}:{entry.name}")
    logger.debug("loaded plugins: %s", ", ".join(loaded) or "none")
    return loaded


def command_modules() -> list[Any]:
    """The command modules of the installed plugins (entry points of :data:`COMMANDS`), by name."""
    found = []
    for entry in sorted(metadata.entry_points(group=COMMANDS), key=lambda e: e.name):
        try:
            found.append(entry.load())
        except Exception as exc:  # a broken plugin is reported, the others load
            logger.warning("command plugin %s = %s failed to load: %s", entry.name, entry.value, exc)
    return found


def load_modules(modules: Iterable[str]) -> None:
    """Import each module by dotted name (``--plugin my_pkg.scorers``); an error names the module."""
    for name in modules:
        try:
            import_module(name)
        except ImportError as exc:
            raise ConfigError(f"--plugin {name}: cannot import it: {exc}") from exc
