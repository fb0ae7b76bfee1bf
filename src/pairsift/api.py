"""The Python API: the library's front door. The CLI wraps these functions, with the same parameter names.

- :func:`score` a pool into a run directory; :func:`select` a subset from its score tables;
  :func:`reshard` the subset's samples out of webdataset tars; :func:`run` a whole :class:`Recipe`;
- :func:`embed` raw image–text shards into a pool and :func:`caption` them for SIEVE;
- :func:`train` a CLIP on a subset with open_clip's trainer and :func:`evaluate` it with clip_benchmark.

Every stage resumes an earlier run into the same output, and ``engine`` (an :class:`EngineConfig` or
its recipe mapping) says where shards run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pairsift.data import UID_COLUMN
from pairsift.engines import EngineConfig, make_engine
from pairsift.io.limits import ReadLimits
from pairsift.io.sources import SourceConfig
from pairsift.plugins import load_modules
from pairsift.recipe import Recipe
from pairsift.select.selection import SelectConfig, SelectionResult
from pairsift.select.selection import select as _select
from pairsift.stages.base import Summary
from pairsift.stages.reshard import ReshardConfig, ReshardSummary
from pairsift.stages.reshard import reshard as _reshard
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec
from pairsift.stages.train import TrainConfig, TrainSummary

if TYPE_CHECKING:
    from pairsift.stages.caption import CaptionConfig
    from pairsift.stages.embed import EmbedConfig
    from pairsift.stages.evaluate import EvaluateResult
    from pairsift.stages.score import ScoreSummary

logger = logging.getLogger(__name__)

EngineLike = EngineConfig | dict[str, Any] | None


def _engine(engine: EngineLike, workers: int | None = None) -> EngineConfig:
    return EngineConfig.from_dict(engine).with_options(workers=workers)


def score(
    pool: str,
    output: str,
    *,
    scorers: Sequence[str | dict[str, Any] | ScorerSpec],
    embeddings: str = "l14",
    source: str = "auto",
    uid_column: str = UID_COLUMN,
    image_column: str = "image_embedding",
    text_column: str = "text_embedding",
    device: str = "auto",
    precision: str = "fp32",
    workers: int | None = None,
    seed: int = 0,
    engine: EngineLike = None,
) -> ScoreSummary:
    """Score a pool into ``output`` (see ``pairsift score --help``); resumes an earlier run there.

    ``workers``: local worker processes (the engine's ``workers``).

    >>> score("pool/", "run/", scorers=["clip_score", "neg_clip_loss:k=5"])  # doctest: +SKIP
    >>> score("pool/", "run/", scorers=["clip_score"], engine={"kind": "ray"})  # doctest: +SKIP
    """
    from pairsift.stages.score import score as run_score

    config = ScoreConfig(
        pool=pool,
        output=output,
        embeddings=embeddings,
        scorers=tuple(ScorerSpec.parse(s) for s in scorers),
        source=SourceConfig(source, uid_column, image_column, text_column),
        compute=ComputeConfig(device, precision),
        seed=seed,
        engine=_engine(engine, workers),
    )
    return run_score(config)


def select(
    run_dir: str | Path,
    output: str,
    *,
    rules: Sequence[tuple[str, str]],
    fuse: Sequence[str] = (),
    normalize: str = "minmax",
    datacomp_threshold: bool = False,
    allow_partial: bool = False,
    engine: EngineConfig | None = None,
) -> SelectionResult:
    """Apply ``rules`` (``("top", "neg_clip_loss=0.3")``, … as ``pairsift select`` flags) in order and
    write the subset file ``output`` and its record ``output.json``. A run whose pool has shards without
    score tables is refused unless ``allow_partial``. ``engine``: where the passes over the score tables
    run (stage ``select``; default: this process); it never changes the subset."""
    config = SelectConfig(
        rules=tuple(rules),
        output=output,
        fuse=tuple(fuse),
        normalize=normalize,
        datacomp_threshold=datacomp_threshold,
        allow_partial=allow_partial,
    )
    return _select(run_dir, config, None if engine is None else make_engine(engine, "select"))


def reshard(
    input: str,
    subset: str,
    output: str,
    *,
    shard_size: int = 10000,
    layout: str = "pairsift",
    workers: int | None = None,
    engine: EngineLike = None,
    limits: dict[str, int] | None = None,
) -> ReshardSummary:
    """Write the samples of ``subset`` found in the tars of ``input`` into new tars under ``output``
    (``layout="datacomp"``: named as DataComp's resharder names them; ``limits``: byte caps of the reader,
    as :class:`~pairsift.io.limits.ReadLimits` fields)."""
    config = ReshardConfig(input, subset, output, shard_size, _engine(engine, workers), layout)
    if limits:
        config = dataclasses.replace(config, limits=ReadLimits.from_dict(limits))
    return _reshard(config)


def embed(config: EmbedConfig) -> Summary:
    """Embed raw image–text shards into a DataComp-layout pool (see ``pairsift embed``)."""
    from pairsift.stages.embed import embed as run_embed

    return run_embed(config)


def caption(config: CaptionConfig) -> Summary:
    """Caption raw image shards into a caption cache for SIEVE (see ``pairsift caption``)."""
    from pairsift.stages.caption import caption as run_caption

    return run_caption(config)


def train(data: str, output: str, *, subset: str | None = None, **options: Any) -> TrainSummary:
    """Train a CLIP on the tars of ``data`` (only ``subset``'s samples when given) into ``output`` with
    open_clip's trainer, at a fixed samples-seen budget; resumes an earlier run there. ``options``:
    the fields of :class:`~pairsift.stages.train.TrainConfig` (``model``, ``samples_seen``, ``seed``, …)."""
    from pairsift.stages.train import train as run_train

    return run_train(TrainConfig(data, output, subset=subset, **options))


def evaluate(
    checkpoint: str,
    tasks: Sequence[str],
    *,
    output: str | None = None,
    model: str | None = None,
    device: str = "auto",
) -> EvaluateResult:
    """Zero-shot classification and retrieval of a ``train`` output (or an ``epoch_N.pt``) with
    clip_benchmark on task folders in its webdataset layout; writes ``output`` (JSON) when given."""
    from pairsift.stages.evaluate import EvaluateConfig
    from pairsift.stages.evaluate import evaluate as run_evaluate

    return run_evaluate(EvaluateConfig(checkpoint, tuple(tasks), output, model, device))


@dataclass
class RunResult:
    """What :func:`run` did: the score summary, the selection (None when scoring failed) and the reshard."""

    score: ScoreSummary
    selection: SelectionResult | None = None
    reshard: ReshardSummary | None = None

    @property
    def ok(self) -> bool:
        return self.score.ok and self.selection is not None and (self.reshard is None or self.reshard.ok)


def run(recipe: Recipe | str, **resolve_options: Any) -> RunResult:
    """Run a whole recipe: score, select, then reshard when the recipe has a reshard section.

    ``recipe`` is a :class:`Recipe`, or a built-in recipe name or YAML file resolved with
    ``pool=``, ``output=``, ``variables=`` and ``overrides=`` (see :func:`pairsift.recipe.resolve`).
    A stage that fails stops the run: nothing after it runs on missing inputs.
    """
    from pairsift.recipe import resolve
    from pairsift.stages.score import score as run_score

    if isinstance(recipe, str):
        recipe = Recipe.from_dict(resolve(recipe, **resolve_options))
    load_modules(recipe.plugins)
    result = RunResult(run_score(recipe.score))
    if not result.score.ok:
        logger.error("scoring failed for %d shard(s); not selecting", len(result.score.failures))
        return result
    engine = make_engine(recipe.score.engine, "select")  # the recipe's engine runs the selection's passes
    result.selection = _select(recipe.score.output, recipe.select, engine)
    if recipe.reshard is not None:
        result.reshard = _reshard(recipe.reshard)
    return result
