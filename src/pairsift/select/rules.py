"""Selection rules, applied in order to the set of kept rows. Each is registered by its CLI flag."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pairsift.errors import InputError
from pairsift.io.subsets import SubsetIndex, read_subset
from pairsift.registry import Registry
from pairsift.select.exact_top_k import same_precision, top_k
from pairsift.select.mapped import MappedSelection
from pairsift.select.passes import COMPARE, CutFilter, SubsetFilter, ThresholdFilter
from pairsift.select.state import SelectionState
from pairsift.select.step import Step


class Rule(ABC):
    """A step of a selection. ``parse`` reads the CLI/YAML text form."""

    flag: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def parse(cls, text: str) -> Rule: ...

    @abstractmethod
    def apply(self, state: SelectionState) -> Step: ...

    @abstractmethod
    def mapped(self, selection: MappedSelection) -> Step:
        """The same rule as engine passes: decide this rule's filter from merged pass results, add it."""

    @abstractmethod
    def describe(self) -> str: ...


RULES: Registry[type[Rule]] = Registry("selection rule")


def register(flag: str) -> Callable[[type[Rule]], type[Rule]]:
    def wrap(cls: type[Rule]) -> type[Rule]:
        cls.flag = flag
        return RULES.register(flag)(cls)

    return wrap


def _name_value(text: str, flag: str, what: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name.strip() or not value.strip():
        raise ValueError(f"--{flag} expects NAME={what}, got {text!r}")
    return name.strip(), value.strip()


def _number(text: str, flag: str, kind: type = float) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"--{flag}: {text!r} is not a{'n integer' if kind is int else ' number'}") from None


@dataclass
class _Top(Rule):
    column: str
    count: int | None = None
    fraction: float | None = None

    def apply(self, state: SelectionState) -> Step:
        state.check_column(self.column)
        k = self.count if self.count is not None else int((self.fraction or 0.0) * state.base)
        read = state.ranked(self.column)
        if self.fraction is not None and state.datacomp_threshold:
            return self._datacomp(state, k, read)
        cut = top_k(state.shards, k, read, state.uid_keys, state.masks, streaming=state.streaming)
        if self.count is not None and cut.available < k:
            raise InputError(self._too_few(k, cut.available, state.kept))
        kept = state.update(lambda shard: cut.mask(shard, read(shard), state.masks[shard]))
        return Step(self.describe(), kept, state.base, state.display(self.column, cut.threshold))

    def mapped(self, selection: MappedSelection) -> Step:
        selection.check_column(self.column)
        k = self.count if self.count is not None else int((self.fraction or 0.0) * selection.base)
        higher = selection.ranked_higher(self.column)
        if self.fraction is not None and selection.datacomp_threshold:
            cut = selection.top_k(self.column, k + 1)
            if k >= cut.available:
                raise InputError(self._unreachable(selection.kept, selection.base, k, cut.available))
            selection.add(CutFilter(self.column, higher, cut, at_least=True))
            label = self.describe() + " (datacomp threshold)"
            return selection.step(label, selection.display(self.column, cut.threshold))
        cut = selection.top_k(self.column, k)
        if self.count is not None and cut.available < k:
            raise InputError(self._too_few(k, cut.available, selection.kept))
        selection.add(CutFilter(self.column, higher, cut))
        return selection.step(self.describe(), selection.display(self.column, cut.threshold))

    def _too_few(self, k: int, available: int, kept: int) -> str:
        return (
            f"--{self.flag} {self.column}={k}: only {available:,} rows are available (rows still "
            f"kept with a finite {self.column!r}, of {kept:,} kept); N must be at most "
            f"{available:,} to keep exactly N"
        )

    def _datacomp(self, state: SelectionState, k: int, read: Callable[[str], np.ndarray]) -> Step:
        """DataComp's baseline: ``t = -sort(-x)[k]`` with ``k = int(base · f)``, keep ``x >= t``.

        The threshold is the (k+1)-th largest value, counting rows (a uid listed twice counts twice).
        DataComp's sort puts NaN last, so a position at or past the rows with a finite value gives it a
        NaN threshold (it keeps nothing) or an IndexError: refused here, with the numbers.
        """
        cut = top_k(state.shards, k + 1, read, state.uid_keys, state.masks, streaming=state.streaming)
        if k >= cut.available:
            raise InputError(self._unreachable(state.kept, state.base, k, cut.available))

        def keep(shard: str) -> np.ndarray:
            values = read(shard)
            return (
                state.masks[shard] & np.isfinite(values) & (values >= same_precision(values, cut.threshold))
            )

        kept = state.update(keep)
        return Step(
            self.describe() + " (datacomp threshold)",
            kept,
            state.base,
            state.display(self.column, cut.threshold),
        )

    def _unreachable(self, rows: int, base: int, k: int, available: int) -> str:
        if k < rows:
            landing = (
                f"only {available:,} of them have a finite {self.column!r}: DataComp's sort puts NaN last "
                f"(positions {available:,} to {rows - 1:,}), so its threshold would be NaN and keep nothing"
            )
        else:
            landing = "that is past the last row (DataComp would raise an IndexError)"
        return (
            f"--top {self.column}={self.fraction:g} with --datacomp-threshold: the threshold is the value at "
            f"descending position int({base:,} · {self.fraction:g}) = {k:,} of the {rows:,} rows kept "
            f"so far, but {landing}; use a fraction below {available:,}/{base:,}, or drop "
            "--datacomp-threshold"
        )


@register("top")
class TopFraction(_Top):
    """``--top NAME=FRACTION``: the exact top int(FRACTION · base) rows, ties by uid."""

    @classmethod
    def parse(cls, text: str) -> TopFraction:
        name, value = _name_value(text, "top", "FRACTION")
        fraction = _number(value, "top")
        if not 0 < fraction <= 1:
            raise ValueError(f"--top {text}: the fraction must be in (0, 1], got {fraction}")
        return cls(name, fraction=fraction)

    def describe(self) -> str:
        return f"top {self.column}={self.fraction:g}"


@register("top-n")
class TopN(_Top):
    """``--top-n NAME=N``: the exact top N rows, ties by uid."""

    @classmethod
    def parse(cls, text: str) -> TopN:
        name, value = _name_value(text, "top-n", "N")
        count = _number(value, "top-n", int)
        if count < 0:
            raise ValueError(f"--top-n {text}: N must be >= 0")
        return cls(name, count=count)

    def describe(self) -> str:
        return f"top-n {self.column}={self.count}"


_COMPARE = COMPARE


@register("threshold")
@dataclass
class Threshold(Rule):
    """``--threshold NAME=VALUE`` keeps rows >= VALUE; ``NAME<=VALUE`` (or ``<``, ``>``, ``>=``) too."""

    column: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        for op in ("<=", ">=", "<", ">", "="):
            name, found, value = text.partition(op)
            if found and name.strip() and value.strip():
                return cls(name.strip(), ">=" if op == "=" else op, _number(value.strip(), "threshold"))
        raise ValueError(f"--threshold expects NAME=VALUE or NAME<=VALUE, got {text!r}")

    def apply(self, state: SelectionState) -> Step:
        state.check_column(self.column)
        compare = _COMPARE[self.op]

        def keep(shard: str) -> np.ndarray:
            values = state.read(shard, self.column)
            return state.masks[shard] & compare(values, same_precision(values, self.value))

        kept = state.update(keep)
        return Step(self.describe(), kept, state.base, self.value)

    def mapped(self, selection: MappedSelection) -> Step:
        selection.check_column(self.column)
        selection.add(ThresholdFilter(self.column, self.op, self.value))
        return selection.step(self.describe(), self.value)

    def describe(self) -> str:
        return f"threshold {self.column}{self.op}{self.value:g}"


@dataclass
class _SubsetRule(Rule):
    path: str

    @classmethod
    def parse(cls, text: str) -> _SubsetRule:
        return cls(text.strip())

    def describe(self) -> str:
        return f"{self.flag} {self.path}"

    def apply(self, state: SelectionState) -> Step:
        subset = SubsetIndex(read_subset(self.path))
        kept = state.update(lambda shard: self.combine(state.masks[shard], state.member(shard, subset)))
        if self.restricts:
            state.base = kept
        return Step(self.describe(), kept, state.base)

    def mapped(self, selection: MappedSelection) -> Step:
        read_subset(self.path)  # a bad uid list is refused here, naming it, before any pass
        selection.add(SubsetFilter(self.path, self.combine))
        if self.restricts:
            selection.base = selection.kept
        return selection.step(self.describe())

    #: later fractions count against the rows kept after this rule
    restricts: ClassVar[bool] = False

    @abstractmethod
    def combine(self, current: np.ndarray, member: np.ndarray) -> np.ndarray: ...


@register("restrict")
class Restrict(_SubsetRule):
    """``--restrict UIDS.npy``: keep only rows in the subset; later fractions count against its size."""

    restricts = True

    def combine(self, current: np.ndarray, member: np.ndarray) -> np.ndarray:
        return current & member


@register("intersect")
class Intersect(_SubsetRule):
    """``--intersect UIDS.npy``: keep only rows in the subset; the base size does not change."""

    def combine(self, current: np.ndarray, member: np.ndarray) -> np.ndarray:
        return current & member


@register("union")
class Union(_SubsetRule):
    """``--union UIDS.npy``: add the pool rows whose uid is in the subset."""

    def combine(self, current: np.ndarray, member: np.ndarray) -> np.ndarray:
        return current | member


@register("exclude")
class Exclude(_SubsetRule):
    """``--exclude UIDS.npy``: drop the rows whose uid is in the subset."""

    def combine(self, current: np.ndarray, member: np.ndarray) -> np.ndarray:
        return current & ~member


def parse_rule(flag: str, text: str) -> Rule:
    return RULES.get(flag).parse(str(text))
