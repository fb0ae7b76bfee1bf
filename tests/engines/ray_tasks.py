"""Toy shard tasks for the Ray engine tests, in a module that imports nothing heavy (actors import it)."""

from __future__ import annotations

import os
from pathlib import Path


class CountingTask:
    """Appends one byte per attempt to ``<dir>/<shard>``; ``bad`` always raises, ``flaky`` only at first."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def setup(self) -> None:
        self.ready = True

    def __call__(self, shard: str) -> str:
        assert self.ready
        marker = self.directory / shard
        with marker.open("ab") as fh:
            fh.write(b"x")
        attempts = marker.stat().st_size
        if shard == "bad" or (shard == "flaky" and attempts == 1):
            raise RuntimeError(f"broken shard (attempt {attempts})")
        return shard.upper()


class DyingTask:
    """Kills its worker process on shard ``die``; its setup raises when ``fail_setup``."""

    def __init__(self, fail_setup: bool = False) -> None:
        self.fail_setup = fail_setup

    def setup(self) -> None:
        if self.fail_setup:
            raise FileNotFoundError("model.safetensors")

    def __call__(self, shard: str) -> str:
        if shard == "die":
            os._exit(3)
        return shard
