"""The scorer contract and its registry.

A scorer is built from keyword parameters (stored, not acted on), prepares heavy state in
:meth:`Scorer.setup` where the work runs, and maps one shard's :class:`EmbeddingBatch` to a
float32 array with NaN on the rows it cannot score. A scorer may also write extra columns beside its
score (:meth:`Scorer.output_columns`, :meth:`Scorer.score_columns`), e.g. SIEVE's mean and best caption.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pairsift.data import EmbeddingBatch, PoolReader
from pairsift.device import Compute
from pairsift.registry import Registry


@dataclass(frozen=True)
class Prerequisite:
    """Something a scorer reads that a stage makes: ``stage`` names the stage (e.g. ``caption``),
    ``options`` are that stage's config fields. The score stage makes it before scoring any shard."""

    stage: str
    options: dict[str, Any] = field(default_factory=dict)


class Scorer(ABC):
    """Per-shard scorer. Subclasses set the class attributes and implement :meth:`score_valid`."""

    #: registry name, set by :func:`register`
    kind: ClassVar[str] = ""
    #: embedding modalities the scorer reads (``"image"``, ``"text"``)
    requires: ClassVar[frozenset[str]] = frozenset()
    #: True when a larger score means a better sample
    higher_is_better: ClassVar[bool] = True
    #: True when a row's score depends on the other rows of the shard (random batches)
    uses_batchmates: ClassVar[bool] = False

    def __init__(self, *, name: str | None = None) -> None:
        self.name = None if name is None else str(name)

    @property
    def column(self) -> str:
        """Output column of this scorer: ``name=`` or :meth:`default_column`."""
        return self.name or self.default_column()

    def default_column(self) -> str:
        return self.kind

    def output_columns(self) -> tuple[str, ...]:
        """Every column this scorer writes: its score column first, then any extra ones."""
        return (self.column,)

    def score_columns(
        self, batch: EmbeddingBatch, compute: Compute, *, seed: int = 0
    ) -> dict[str, np.ndarray]:
        """Every output column for ``batch``: float32 arrays, or object arrays of str for text columns."""
        return {self.column: self.score(batch, compute, seed=seed)}

    def inputs(self) -> frozenset[str]:
        """What this scorer reads from the pool: :attr:`requires`, plus any metadata columns an instance
        asks for (``column:<name>``, see :func:`pairsift.data.metadata_column`)."""
        return self.requires

    def params(self) -> dict[str, Any]:
        """Constructor parameters, as recorded in ``run.json``."""
        return {"name": self.name}

    def __getstate__(self) -> dict[str, Any]:
        """Pickle parameters only: state loaded by :meth:`setup` (attributes ending in ``_``) stays behind."""
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_")}

    def prerequisites(self, *, seed: int, precision: str) -> tuple[Prerequisite, ...]:
        """What a stage must make before this scorer can read it (default: nothing)."""
        return ()

    def setup(self, compute: Compute, *, family: str) -> None:  # noqa: B027 - optional hook
        """Load heavy state (targets, models). Called once per worker before scoring."""

    def score(self, batch: EmbeddingBatch, compute: Compute, *, seed: int = 0) -> np.ndarray:
        """Scores for every row of ``batch``: float32, NaN where a row is not valid for this scorer."""
        out = np.full(len(batch), np.nan, dtype=np.float32)
        valid = batch.valid(self.requires)
        if valid.any():
            out[valid] = self.score_valid(batch, valid, compute, seed=seed)
        return out

    @abstractmethod
    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        """Scores of the rows selected by the boolean mask ``valid``, in row order."""


class PoolScorer(Scorer):
    """A scorer whose values need the whole pool (e.g. NormSim-D). Runs after the per-shard map."""

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        raise TypeError(f"{self.kind} scores a whole pool; call score_pool")

    @abstractmethod
    def score_pool(
        self, batches: PoolReader, compute: Compute, *, seed: int, workdir: Path | None = None
    ) -> dict[str, np.ndarray]:
        """Scores for every shard of the pool: ``{shard name: float32 array}``.

        ``workdir`` is local scratch space (the run directory's ``.work``) for on-disk caches.
        """

    def score_pool_columns(
        self, batches: PoolReader, compute: Compute, *, seed: int, workdir: Path | None = None
    ) -> dict[str, dict[str, np.ndarray]]:
        """Every output column for every shard: ``{column: {shard: array}}``. A pool scorer writing
        extra columns overrides this; the default wraps :meth:`score_pool`."""
        return {self.column: self.score_pool(batches, compute, seed=seed, workdir=workdir)}


#: the built-in scorers, one module each; they register themselves as they load
BUILTIN = tuple(
    f"pairsift.scorers.{m}"
    for m in (
        *("clip_score", "column", "neg_clip_loss", "norm_sim", "norm_sim_d", "sieve"),
        *("semdedup", "image_based", "decontaminate"),
        *("english", "caption_length", "image_size", "text_entity"),
    )
)
SCORERS: Registry[type[Scorer]] = Registry("scorer", modules=BUILTIN)


def register(kind: str) -> Any:
    """Class decorator: register a scorer under ``kind`` and stamp ``cls.kind``."""

    def wrap(cls: type[Scorer]) -> type[Scorer]:
        cls.kind = kind
        return SCORERS.register(kind)(cls)

    return wrap


def build_scorer(kind: str, params: dict[str, Any]) -> Scorer:
    """Instantiate a registered scorer, turning bad parameters into a readable error.

    A parameter the constructor does not take is refused before the constructor runs, with the list of
    the ones it does take (its keyword parameters; a constructor with ``**kwargs`` accepts any name).
    """
    cls = SCORERS.get(kind)
    accepted = _keyword_parameters(cls)
    if accepted is not None:
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            names = ", ".join(repr(u) for u in unknown)
            raise ValueError(
                f"scorer {kind!r}: unknown parameter{'s' if len(unknown) > 1 else ''} {names}; "
                f"valid parameters: {', '.join(accepted) or '(none)'}"
            )
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scorer {kind!r}: {exc}") from exc


def _keyword_parameters(cls: type[Scorer]) -> tuple[str, ...] | None:
    """The names a scorer's constructor takes by keyword, in order; None when it takes ``**kwargs``."""
    names: list[str] = []
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if parameter.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            names.append(parameter.name)
    return tuple(n for n in names if n != "self")
