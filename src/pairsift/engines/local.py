"""The local engine: shards in this process, or in a pool of worker processes (``workers > 1``).

Worker processes die with the process that started them (:func:`die_with_parent`), so a kill -9 of a
run leaves no orphan holding CPU, memory or the GPU.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
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

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
#: how often a worker without PR_SET_PDEATHSIG checks that its parent is alive (seconds)
WATCHDOG_INTERVAL = 0.5
#: the thread counts a worker process sets to its share of the cores
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _init_worker(task: ShardTask[Any], threads: int, parent: int) -> None:
    global _WORKER_TASK
    die_with_parent(parent)
    # torch reads these when it is first imported (by the task's setup, or later by its calls); a task
    # that never touches torch (selection's passes) does not pay for importing it
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    task.setup()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    _WORKER_TASK = task


def _run_in_worker(shard: str) -> Any:
    return _WORKER_TASK(shard)


#: a session worker's current task: (token, task), set up when a call brings a new token
_SESSION_TASK: tuple[int, Any] | None = None


def _init_session_worker(threads: int, parent: int) -> None:
    die_with_parent(parent)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


def _run_in_session(token: int, payload: bytes, shard: str) -> Any:
    """Run ``shard`` with the task of ``token`` (unpickled and set up on its first call here)."""
    global _SESSION_TASK
    if _SESSION_TASK is None or _SESSION_TASK[0] != token:
        task = pickle.loads(payload)
        task.setup()
        _SESSION_TASK = (token, task)
    return _SESSION_TASK[1](shard)


def die_with_parent(parent: int) -> None:
    """Make this worker process end when ``parent`` (the process that started it) ends, even by kill -9.

    On Linux the kernel sends SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere, or
    if that call fails, a daemon thread polls the parent pid. Either way, a parent already gone (it
    died before this ran, so the worker was reparented) ends the worker at once.
    """
    if not _set_parent_death_signal():
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watchdog", daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCHDOG_INTERVAL)
    os._exit(1)


@ENGINES.register("local")
class LocalEngine(Engine):
    """Run shards here. With ``workers > 1``, each worker process gets ``cpus // workers`` threads."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._tasks = 0

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Keep ``workers`` processes for every :meth:`map` inside the block (each call's task goes to
        them pickled, and is set up once per process); they end with the block."""
        if self.workers == 1 or self._pool is not None:
            yield
            return
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(self.workers, context, _init_session_worker, (threads, os.getpid()))
        try:
            yield
        finally:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

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
        if self._pool is not None:
            self._tasks += 1
            payload = pickle.dumps(task)
            pool, token = self._pool, self._tasks
            yield from _collect({pool.submit(_run_in_session, token, payload, s): s for s in shards})
            return
        workers = min(self.workers, len(shards))
        threads = max(1, (os.cpu_count() or 1) // workers)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, context, _init_worker, (task, threads, os.getpid())) as pool:
            yield from _collect({pool.submit(_run_in_worker, s): s for s in shards})


def _collect(pending: dict[Future[Any], str]) -> Iterator[Outcome[Any]]:
    """Outcomes of the submitted shards, in completion order."""
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            shard = pending.pop(future)
            exc = future.exception()
            if exc is None:
                yield Outcome(shard, result=future.result())
            else:
                yield Outcome(shard, failure=ShardFailure(shard, describe_error(exc)))
