"""A small generic registry: names -> classes or functions, with errors that list the valid names.

A registry is filled by its entries: each entry module registers itself when it is imported. A registry
may name the modules of its built-in entries (``modules=``); they are imported, by name, the first time
the registry is asked for anything, so that the registry module never imports its own entries. On a
name it does not know, a registry also loads the installed plugins once (:mod:`pairsift.plugins`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Generic, TypeVar

from pairsift import plugins

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name no entry was registered under."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps a string name to an object (usually a class) of one family."""

    def __init__(self, family: str, *, modules: tuple[str, ...] = ()) -> None:
        self.family = family
        self.modules = modules
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._loaded = not modules

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@SCORERS.register("clip_score")``."""

        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.family} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return add

    def alias(self, name: str, target: str) -> None:
        """Let ``name`` resolve to the entry ``target`` (another spelling; :meth:`names` lists ``target``)."""
        if name in self._entries or name in self._aliases:
            raise ValueError(f"{self.family} {name!r} is already registered")
        self._aliases[name] = target

    def aliases(self) -> dict[str, str]:
        """Alias -> the name it resolves to."""
        self._load_builtins()
        return dict(self._aliases)

    def get(self, name: str) -> T:
        name = self._aliases.get(name, name)
        if not self._has(name):
            raise UnknownNameError(f"unknown {self.family} {name!r}; available: {', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        """Every registered name, the installed plugins' included."""
        self._load_builtins()
        plugins.load_installed()
        return sorted(self._entries)

    def _has(self, name: str) -> bool:
        self._load_builtins()
        if name not in self._entries:
            plugins.load_installed()
        return name in self._entries

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self.modules:
                import_module(module)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._has(self._aliases.get(name, name))

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
