"""The Ray engine: the same per-shard tasks as the local engine, on a pool of Ray actors.

One input shard is one actor call. Each actor sets its task up once (a model loads once per actor),
then runs one shard per call; ``ray.util.ActorPool`` hands the next shard to whichever actor is free.
Ray does the rest: it places actors where their CPUs and GPUs are (fractional GPUs share a device),
retries a shard that raised (``max_task_retries`` + ``retry_exceptions``) and restarts an actor whose
process died (``max_restarts``). A shard still failing after its retries comes back as a
:class:`~pairsift.engines.base.ShardFailure` with its error, and the other shards go on.

Only shard names go to the actors and only the tasks' small reports come back: every output is
written by the actor itself, with the same atomic files the local engine writes, so a run started
with one engine can be finished with the other.

``ray`` is imported inside methods only: pairsift works without the ``ray`` extra.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from pairsift.engines.base import Engine, Outcome, ShardFailure, ShardTask, describe_error
from pairsift.engines.config import EngineConfig, Resources
from pairsift.engines.registry import ENGINES
from pairsift.errors import ConfigError

logger = logging.getLogger(__name__)
R = TypeVar("R")

INSTALL_HINT = "the ray engine needs Ray: pip install 'pairsift[ray]'"


class ShardError(Exception):
    """A shard's task raised; carries the shard's name through Ray's retries back to the driver."""

    def __init__(self, shard: str, error: str, attempts: int = 1) -> None:
        super().__init__(shard, error, attempts)
        self.shard = shard
        self.error = error
        self.attempts = attempts

    def __str__(self) -> str:
        return f"shard {self.shard}: {self.error}"


class AttemptLog:
    """The body of a small Ray actor on the driver's node: how many times each shard was started.

    Ray retries a call itself (after an error, or on a restarted actor when a process or a node died),
    so only a count kept outside the actors tells the driver which shards ran more than once.
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def begin(self, shard: str) -> int:
        self.counts[shard] = self.counts.get(shard, 0) + 1
        return self.counts[shard]


class ShardWorker:
    """The body of one Ray actor: set the task up once, then run it on one shard per call.

    Ray gives the actor's process ``OMP_NUM_THREADS`` = its CPUs, which torch follows. An actor
    that reserved no GPU hides the node's GPUs from itself (Ray leaves them visible), so
    ``device: auto`` resolves to the CPU and no unreserved GPU is used.
    """

    def __init__(self, task: ShardTask[Any], *, gpus: float, log: Any = None) -> None:
        if gpus == 0:
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        task.setup()
        self.task = task
        self.log = log

    def _attempt(self, shard: str) -> int:
        """This start's number for ``shard`` (1 when the log is unreachable: a count lost, not a shard)."""
        if self.log is None:
            return 1
        import ray

        try:
            return int(ray.get(self.log.begin.remote(shard)))
        except ray.exceptions.RayError as err:
            logging.getLogger(__name__).warning("the attempt log is unreachable: %s", _brief(err))
            return 1

    def run(self, shard: str) -> tuple[str, Any, int]:
        attempt = self._attempt(shard)
        try:
            return shard, self.task(shard), attempt
        except Exception as exc:  # raised again, so that Ray retries it and then reports it
            raise ShardError(shard, describe_error(exc), attempt) from exc


@ENGINES.register("ray")
class RayEngine(Engine):
    """Run shards on ``actors`` Ray actors of ``cpus`` CPUs and ``gpus`` GPUs each.

    ``address`` is passed to ``ray.init`` when this process is not connected yet (``None``: Ray's own
    resolution — ``RAY_ADDRESS``, a cluster started on this machine, else a new local Ray); a Ray
    already initialised in this process is used as it is. ``retries``: extra attempts per shard.
    ``actors=None``: as many as the cluster's CPUs and GPUs fit, at most one per shard.
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        cpus: float = 1.0,
        gpus: float = 0.0,
        actors: int | None = None,
        retries: int = 2,
    ) -> None:
        if importlib.util.find_spec("ray") is None:
            raise ConfigError(INSTALL_HINT)
        self.address = address
        self.cpus = cpus
        self.gpus = gpus
        self.actors = actors
        self.retries = retries

    @classmethod
    def from_config(cls, config: EngineConfig, resources: Resources) -> RayEngine:
        """Actors and their resources from the stage's ``resources``; ``engine.workers`` is local-only."""
        return cls(
            address=config.address,
            cpus=resources.cpus if resources.cpus is not None else 1.0,
            gpus=resources.gpus,
            actors=resources.actors,
            retries=config.retries,
        )

    def map(self, task: ShardTask[R], shards: Sequence[str]) -> Iterator[Outcome[R]]:
        if not shards:
            return
        ray = connect(self.address)
        from ray.util import ActorPool

        log = _attempt_log(ray)
        actors = self._start_actors(ray, task, self._actor_count(ray, len(shards)), log)
        pool = ActorPool(actors)
        for shard in shards:
            pool.submit(_submit, shard)
        reported: set[str] = set()
        lost: list[str] = []  # errors that name no shard: an actor died for good
        try:
            while pool.has_next():
                outcome = _next(ray, pool)
                if isinstance(outcome, str):
                    lost.append(outcome)
                    continue
                reported.add(outcome.shard)
                yield outcome
            error = "; ".join(dict.fromkeys(lost)) or "no live Ray actor was left to run it"
            for shard in shards:
                if shard not in reported:
                    yield Outcome(shard, failure=ShardFailure(shard, error))
        finally:
            for actor in [*actors, log]:
                ray.kill(actor)

    def _actor_count(self, ray: Any, shards: int) -> int:
        total = ray.cluster_resources()
        cpus, gpus = total.get("CPU", 0.0), total.get("GPU", 0.0)
        fits = math.floor(cpus / self.cpus + 1e-9)
        if self.gpus > 0:
            fits = min(fits, math.floor(gpus / self.gpus + 1e-9))
        wanted = self.actors if self.actors is not None else fits
        need = f"one actor needs cpus={self.cpus:g}, gpus={self.gpus:g}"
        if fits < 1 and self.actors is None:
            raise ConfigError(
                f"the Ray cluster has {cpus:g} CPUs and {gpus:g} GPUs, but {need}; lower "
                "engine.resources.<stage>.cpus/gpus, or set actors to wait for an autoscaler to add nodes"
            )
        if fits < wanted:
            logger.warning(
                "the Ray cluster now fits %d of %d actors (%s); the others wait for resources",
                fits,
                wanted,
                need,
            )
        return min(wanted, shards)

    def _start_actors(self, ray: Any, task: ShardTask[Any], count: int, log: Any = None) -> list[Any]:
        logger.info(
            "starting %d Ray actors (cpus=%g, gpus=%g each, %d retries per shard)",
            count,
            self.cpus,
            self.gpus,
            self.retries,
        )
        worker = ray.remote(ShardWorker).options(
            num_cpus=self.cpus,
            num_gpus=self.gpus,
            max_restarts=self.retries,
            max_task_retries=self.retries,
        )
        # the task goes by value (it is small: heavy state loads in setup), so a restart can rebuild the actor
        return [worker.remote(task, gpus=self.gpus, log=log) for _ in range(count)]


def connect(address: str | None) -> Any:
    """The ``ray`` module, initialised: an existing connection is kept, otherwise ``ray.init(address)``."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc
    if not ray.is_initialized():
        ray.init(address=address)
    elif address is not None:
        logger.debug("Ray is already initialised in this process; address %r is not used", address)
    return ray


def _attempt_log(ray: Any) -> Any:
    """An :class:`AttemptLog` actor pinned to the driver's node (no CPU): a lost node loses no count."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return ray.remote(AttemptLog).options(num_cpus=0, scheduling_strategy=here).remote()


def _submit(actor: Any, shard: str) -> Any:
    return actor.run.options(retry_exceptions=True).remote(shard)


def _next(ray: Any, pool: Any) -> Outcome[Any] | str:
    """The next finished call: an outcome, or (an actor died for good) the error, which names no shard."""
    try:
        shard, result, attempts = pool.get_next_unordered()
    except ray.exceptions.RayTaskError as err:
        cause = getattr(err, "cause", None)
        if not isinstance(cause, ShardError):
            return _brief(err)
        failure = ShardFailure(cause.shard, cause.error)
        return Outcome(cause.shard, failure=failure, attempts=cause.attempts)
    except ray.exceptions.RayError as err:
        logger.error("a Ray actor died: %s", err)
        return _brief(err)
    return Outcome(shard, result=result, attempts=attempts)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _brief(err: BaseException) -> str:
    """``TypeName: first line … last line`` of a Ray error (its middle is a remote traceback)."""
    lines = [line.strip() for line in _ANSI.sub("", str(err)).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    first = lines[0][:300]
    return f"{type(err).__name__}: {first}" + (f" … {lines[-1]}" if len(lines) > 1 else "")
