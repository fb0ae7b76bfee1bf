"""The local engine: shards in this process, or in a pool of worker processes (``workers > 1``)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from pairsift.engines.base import Engine, Outcome, ShardFailure, ShardTask, describe_error
from pairsift.engines.config import EngineConfig, Resources
from pairsift.engines.registry import ENGINES

logger = logging.getLogger(__name__)
R = TypeVar("R")

_WORKER_TASK: Any = None


def _init_worker(task: ShardTask[Any], threads: int) -> None:
    global _WORKER_TASK
    import torch  # here, not at import time: engines also run tasks that never touch torch

    torch.set_num_threads(threads)
    task.setup()
    _WORKER_TASK = task


def _run_in_worker(shard: str) -> Any:
    return _WORKER_TASK(shard)


@ENGINES.register("local")
class LocalEngine(Engine):
    """Run shards here. With ``workers > 1``, each worker process gets ``cpus // workers`` threads."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    @classmethod
    def from_config(cls, config: EngineConfig, resources: Resources) -> LocalEngine:
        """``engine.workers`` processes; Ray resources (actors, cpus, gpus) do not apply here."""
        return cls(config.workers)

    def map(self, task: ShardTask[R], shards: Sequence[str]) -> Iterator[Outcome[R]]:
        if not shards:
            return
        if self.workers == 1 or len(shards) == 1:
            yield from self._serial(task, shards)
        else:
            yield from self._parallel(task, shards)

    def _serial(self, task: ShardTask[R], shards: Sequence[str]) -> Iterator[Outcome[R]]:
        task.setup()
        for shard in shards:
            try:
                yield Outcome(shard, result=task(shard))
            except Exception as exc:  # a bad shard is reported, the others go on
                logger.debug("shard %s failed:\n%s", shard, traceback.format_exc())
                yield Outcome(shard, failure=ShardFailure(shard, describe_error(exc)))

    def _parallel(self, task: ShardTask[R], shards: Sequence[str]) -> Iterator[Outcome[R]]:
        workers = min(self.workers, len(shards))
        threads = max(1, (os.cpu_count() or 1) // workers)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, context, _init_worker, (task, threads)) as pool:
            pending: dict[Future[R], str] = {pool.submit(_run_in_worker, s): s for s in shards}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    shard = pending.pop(future)
                    exc = future.exception()
                    if exc is None:
                        yield Outcome(shard, result=future.result())
                    else:
                        yield Outcome(shard, failure=ShardFailure(shard, describe_error(exc)))
