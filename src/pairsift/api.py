"""The Python API; it mirrors the CLI's parameter names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pairsift.config import ComputeConfig, ScoreConfig, ScorerSpec, SourceConfig
from pairsift.engines import EngineConfig
from pairsift.pipeline import RunSummary
from pairsift.pipeline import score as run_score


def score(
    pool: str,
    output: str,
    *,
    scorers: Sequence[str | dict[str, Any] | ScorerSpec],
    embeddings: str = "l14",
    source: str = "auto",
    uid_column: str = "uid",
    image_column: str = "image_embedding",
    text_column: str = "text_embedding",
    device: str = "auto",
    precision: str = "fp32",
    workers: int = 1,
    seed: int = 0,
    engine: EngineConfig | dict[str, Any] | None = None,
) -> RunSummary:
    """Score a pool into ``output`` (see ``pairsift score --help``); resumes an earlier run there.

    ``engine``: where shards run, an :class:`EngineConfig` or its recipe mapping (default: local).

    >>> score("pool/", "run/", scorers=["clip_score", "neg_clip_loss:k=5"])  # doctest: +SKIP
    >>> score("pool/", "run/", scorers=["clip_score"], engine={"kind": "ray"})  # doctest: +SKIP
    """
    config = ScoreConfig(
        pool=pool,
        output=output,
        embeddings=embeddings,
        scorers=tuple(ScorerSpec.parse(s) for s in scorers),
        source=SourceConfig(source, uid_column, image_column, text_column),
        compute=ComputeConfig(device, precision, workers),
        seed=seed,
        engine=EngineConfig.from_dict(engine),
    )
    return run_score(config)
