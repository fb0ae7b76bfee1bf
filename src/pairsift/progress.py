"""Progress on long work: a bar on a terminal, periodic log lines elsewhere, nothing when quiet.

On a terminal (stderr is a TTY) a tqdm bar with rate and ETA is drawn on stderr; log records are
routed through it meanwhile so they do not break the bar. Elsewhere (CI, Slurm logs) an INFO line
``DESC: 40/100 shards (40%) in 0:12, 3.3 shards/s, ETA 0:18`` is logged every ``interval`` seconds,
and a closing line when the work logged a line before or lasted at least ``interval`` (short passes
stay silent). ``configure(enabled=False)`` (the CLI's ``-q/--quiet``) turns both off.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: A bar appears only once the work has lasted this long (no flicker for quick passes).
BAR_DELAY = 1.0


@dataclass
class ProgressSettings:
    """Process-wide switches. ``terminal=None`` detects whether stderr is a TTY."""

    enabled: bool = True
    interval: float = 30.0  #: seconds between log lines when not on a terminal
    terminal: bool | None = None


SETTINGS = ProgressSettings()


def configure(
    *, enabled: bool | None = None, interval: float | None = None, terminal: bool | None = None
) -> ProgressSettings:
    """Change the process-wide settings (only the ones given); returns them."""
    if enabled is not None:
        SETTINGS.enabled = enabled
    if interval is not None:
        if interval < 0:
            raise ValueError(f"progress interval must be >= 0 seconds, got {interval}")
        SETTINGS.interval = interval
    if terminal is not None:
        SETTINGS.terminal = terminal
    return SETTINGS


class Progress:
    """Counts done units of ``total``; a context manager. This base class shows nothing."""

    def __init__(self, total: int | None, desc: str, unit: str) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.done = 0
        self.start = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n

    def close(self) -> None:
        """Finish the display (idempotent)."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Bar(Progress):
    """A tqdm bar on stderr; log records go through ``tqdm.write`` while it is open."""

    def __init__(self, total: int | None, desc: str, unit: str) -> None:
        super().__init__(total, desc, unit)
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(logging_redirect_tqdm())
        self._bar = self._stack.enter_context(
            tqdm(
                total=total, desc=desc, unit=f" {unit}s", file=sys.stderr, delay=BAR_DELAY, dynamic_ncols=True
            )
        )

    def update(self, n: int = 1) -> None:
        super().update(n)
        self._bar.update(n)

    def close(self) -> None:
        self._stack.close()


class LogLines(Progress):
    """An INFO line every ``interval`` seconds, and a closing line after long work."""

    def __init__(self, total: int | None, desc: str, unit: str, *, interval: float) -> None:
        super().__init__(total, desc, unit)
        self.interval = interval
        self.logged = 0
        self._last = self.start
        self._closed = False

    def update(self, n: int = 1) -> None:
        super().update(n)
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._log(now, final=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        now = time.monotonic()
        if self.logged or now - self.start >= self.interval:
            self._log(now, final=True)

    def _log(self, now: float, *, final: bool) -> None:
        self.logged += 1
        logger.info(
            "%s", describe(self.desc, self.done, self.total, self.unit, now - self.start, final=final)
        )


def describe(desc: str, done: int, total: int | None, unit: str, elapsed: float, *, final: bool) -> str:
    """``DESC: 40/100 shards (40%) in 0:12, 3.3 shards/s, ETA 0:18`` (no ETA when final or unknown)."""
    rate = done / elapsed if elapsed > 0 else 0.0
    count = f"{done:,}/{total:,}" if total is not None else f"{done:,}"
    share = f" ({done / total:.0%})" if total else ""
    text = f"{desc}: {count} {unit}s{share} in {tqdm.format_interval(elapsed)}, {rate:.3g} {unit}s/s"
    if not final and total is not None and rate > 0:
        text += f", ETA {tqdm.format_interval((total - done) / rate)}"
    return text


def progress(total: int | None, desc: str, unit: str = "shard") -> Progress:
    """A progress display for ``total`` units (``None``: unknown), chosen by :data:`SETTINGS`."""
    if not SETTINGS.enabled:
        return Progress(total, desc, unit)
    terminal = SETTINGS.terminal if SETTINGS.terminal is not None else _stderr_is_terminal()
    if terminal:
        return Bar(total, desc, unit)
    return LogLines(total, desc, unit, interval=SETTINGS.interval)


def track(items: Iterable[T], desc: str, *, total: int | None = None, unit: str = "shard") -> Iterator[T]:
    """Yield ``items``, counting each one as done when the caller asks for the next (or stops)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(total, desc, unit) as shown:
        for item in items:
            yield item
            shown.update()


class TrackedShards(list[str]):
    """A list of shard names that shows progress each time it is iterated (one pass = one display).

    Lets a multi-pass algorithm that loops over ``shards`` report every pass without changes to its
    loops; ``desc`` names the current stage and can be changed between passes.
    """

    def __init__(self, shards: Iterable[str], desc: str, unit: str = "shard") -> None:
        super().__init__(shards)
        self.desc = desc
        self.unit = unit

    def __iter__(self) -> Iterator[str]:
        return track(list.__iter__(self), self.desc, total=len(self), unit=self.unit)

    def __reduce__(self) -> Any:
        return (list, (list(list.__iter__(self)),))


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False
