"""The engine interface: run a picklable per-shard task over shard names, report results or failures."""

from __future__ import annotations

import contextlib
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pairsift.engines.config import EngineConfig, Resources
from pairsift.engines.registry import ENGINES

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class ShardTask(Protocol[R_co]):
    """What engines run: a picklable callable, set up once per worker, then called per shard."""

    def setup(self) -> None: ...

    def __call__(self, shard: str) -> R_co: ...


@dataclass(frozen=True)
class ShardFailure:
    """A shard whose task raised: kept as data, reported at the end of the run."""

    shard: str
    error: str


def describe_error(exc: BaseException) -> str:
    """How a shard's exception is reported: ``TypeName: message``."""
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """One shard's result or failure; ``attempts`` > 1 when the engine ran it again (a retry after an
    error, or after its worker or node died)."""

    shard: str
    result: R | None = None
    failure: ShardFailure | None = None
    attempts: int = 1


class Engine(ABC):
    """Runs the same task over shards; engines differ only in where the calls happen."""

    @classmethod
    @abstractmethod
    def from_config(cls, config: EngineConfig, resources: Resources) -> Engine:
        """The engine for one stage: ``resources`` are the stage's."""

    @abstractmethod
    def map(self, task: ShardTask[R], shards: Sequence[str]) -> Iterator[Outcome[R]]:
        """Yield one outcome per shard, in completion order."""

    def session(self) -> AbstractContextManager[None]:
        """A block in which several :meth:`map` calls may share workers (a selection's passes); by
        default each call starts its own."""
        return contextlib.nullcontext()


def make_engine(config: EngineConfig, stage: str, *, cpus: float = 1.0) -> Engine:
    """The engine that runs ``stage``'s shards (``config.workers`` local processes, or Ray actors).

    ``cpus``: CPU cores one worker of this stage needs when ``engine.resources.<stage>.cpus`` is unset.
    """
    resources = config.stage(stage)
    if resources.cpus is None:
        resources = dataclasses.replace(resources, cpus=cpus)
    engine: Engine = ENGINES.get(config.kind).from_config(config, resources)
    return engine
