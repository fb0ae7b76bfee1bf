"""SIEVE (Mahmoud et al., CVPR 2024; METHODS.md §4): alt-text against synthetic captions of the image.

For row ``i`` with alt-text ``t_i`` and cached captions ``c_i1 … c_iK`` (``pairsift caption``), with
``e(·)`` a unit-norm sentence embedding and ``m(·)`` the optional phrase masking:

    sim_ik = e(m(t_i)) · e(m(c_ik)), or 0 when m(t_i) or m(c_ik) is empty
    sieve(i) = max_k sim_ik        sieve_mean(i) = mean_k sim_ik        sieve_caption(i) = c_ik*

where ``k*`` is the first caption reaching the max (its text as captioned, before masking). Rows whose
image could not be captioned (see the cache's ``status``), or whose uid is not in the cache, get NaN.

When ``images=`` names the raw input, the score stage first runs the caption stage for the shards
not cached yet (:meth:`Sieve.prerequisites`); the scorer itself only reads the cache.

Cost: one sentence embedding per distinct (masked) text of the shard, then ``K·d`` flops per row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from pairsift.data import ALT_TEXT, STATUS_COLUMN, UID_COLUMN, EmbeddingBatch
from pairsift.device import Compute
from pairsift.errors import InputError
from pairsift.io.location import output_path
from pairsift.models.caption_settings import DEFAULT_CAPTIONER, CaptionSettings
from pairsift.models.sentence import DEFAULT_TEXT_MODEL, SentenceEncoder, load_text_model
from pairsift.params import int_param
from pairsift.scorers.base import Prerequisite, Scorer, register
from pairsift.scorers.text_masking import MASKERS, masker

logger = logging.getLogger(__name__)

#: Rows per block when gathering (alt-text, caption) embedding pairs.
PAIR_BLOCK = 4096


@register("sieve")
class Sieve(Scorer):
    """Max cosine between the alt-text and the image's synthetic captions in a sentence-embedding space."""

    requires = frozenset({ALT_TEXT})

    def __init__(
        self,
        *,
        captions: str,
        images: str | None = None,
        captioner: str = DEFAULT_CAPTIONER,
        num_captions: Any = CaptionSettings.num_captions,
        caption_batch_size: Any = 64,
        text_model: str = DEFAULT_TEXT_MODEL,
        mask: str = "none",
        batch_size: Any = 256,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not str(captions).strip():
            raise ValueError("captions must name the caption cache directory")
        self.captions = str(captions)
        self.images = None if images in (None, "") else str(images)
        self.captioner = str(captioner)
        self.num_captions = int_param("num_captions", num_captions, minimum=1)
        self.caption_batch_size = int_param("caption_batch_size", caption_batch_size, minimum=1)
        self.text_model = str(text_model)
        MASKERS.get(str(mask))  # an unknown mode fails here, at build time
        self.mask = str(mask)
        self.batch_size = int_param("batch_size", batch_size, minimum=1)

    def params(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "captions": self.captions,
            "images": self.images,
            "captioner": self.captioner,
            "num_captions": self.num_captions,
            "caption_batch_size": self.caption_batch_size,
            "text_model": self.text_model,
            "mask": self.mask,
            "batch_size": self.batch_size,
        }

    def output_columns(self) -> tuple[str, ...]:
        return (self.column, f"{self.column}_mean", f"{self.column}_caption")

    def prerequisites(self, *, seed: int, precision: str) -> tuple[Prerequisite, ...]:
        """With ``images=``, the caption stage makes the shards missing from the cache (same settings and
        seeds as ``pairsift caption``), so one ``pairsift run`` does everything and a later rescoring
        (another mask, another text model) never captions again."""
        if self.images is None:
            return ()
        options = {
            "input": self.images,
            "output": self.captions,
            "model": self.captioner,
            "settings": CaptionSettings(num_captions=self.num_captions),
            "seed": seed,
            "batch_size": self.caption_batch_size,
            "precision": precision,
            "num_workers": 0,
        }
        return (Prerequisite("caption", options),)

    def setup(self, compute: Compute, *, family: str) -> None:
        """Models load on first use: a driver that only plans the run never loads them."""
        self.compute_ = compute
        self.encoder_: SentenceEncoder | None = None
        self.mask_: Callable[[str], str] = masker(self.mask)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.encoder_ is None:
            self.encoder_ = load_text_model(self.text_model, self.compute_, self.batch_size)
        return self.encoder_.encode(texts)

    def score_valid(
        self, batch: EmbeddingBatch, valid: np.ndarray, compute: Compute, *, seed: int
    ) -> np.ndarray:
        return self._columns(batch, valid, seed)[0]

    def score_columns(
        self, batch: EmbeddingBatch, compute: Compute, *, seed: int = 0
    ) -> dict[str, np.ndarray]:
        n = len(batch)
        best = np.full(n, np.nan, dtype=np.float32)
        mean = np.full(n, np.nan, dtype=np.float32)
        caption = np.full(n, None, dtype=object)
        valid = batch.valid(self.requires)
        if valid.any():
            best[valid], mean[valid], caption[valid] = self._columns(batch, valid, seed)
        return {self.column: best, f"{self.column}_mean": mean, f"{self.column}_caption": caption}

    # --- the computation ---------------------------------------------------------------------
    def _columns(
        self, batch: EmbeddingBatch, valid: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert batch.alt_text is not None
        cached, listed = self._cached_captions(batch.shard)
        alt_texts = batch.alt_text[valid]
        per_row = [cached.get(uid) for uid in batch.uids[valid]]
        unlisted = sum(uid not in listed for uid in batch.uids[valid])
        if unlisted:
            logger.warning(
                "shard %s: %d rows are not in the caption cache %s; their SIEVE scores are NaN",
                batch.shard,
                unlisted,
                self.captions,
            )
        uncaptioned = sum(c is None for c in per_row) - unlisted
        if uncaptioned:
            logger.info(
                "shard %s: %d images could not be captioned (see the cache's status)",
                batch.shard,
                uncaptioned,
            )
        return sieve_columns(alt_texts, per_row, self.mask_, self._encode)

    def _cached_captions(self, shard: str) -> tuple[dict[str, list[str]], set[str]]:
        """uid -> captions of the shard's captioned rows (``status == ok``), and every uid in the cache."""
        from pairsift.io.captions import read_captions

        path = output_path(self.captions) / f"{shard}.parquet"
        if not path.exists():
            raise InputError(
                f"{path}: no cached captions for shard {shard!r}; run `pairsift caption` into "
                f"{self.captions} first, or give the scorer images=<raw input> to caption it"
            )
        table = read_captions(path)
        uids = table.column(UID_COLUMN).to_pylist()
        status = table.column(STATUS_COLUMN).to_pylist()
        texts = table.column("captions").to_pylist()
        captioned = {u: list(t) for u, s, t in zip(uids, status, texts, strict=True) if s == "ok" and t}
        return captioned, set(uids)


def sieve_columns(
    alt_texts: np.ndarray,
    captions: list[list[str] | None],
    mask: Callable[[str], str],
    encode: Callable[[list[str]], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(max, mean, best caption)`` per row; rows without captions get ``(NaN, NaN, None)``.

    Every distinct masked text is embedded once; an empty masked text has similarity 0 to everything.
    """
    n = len(alt_texts)
    masked_alt = [mask(str(t)).strip() for t in alt_texts]
    masked_caps = [[mask(c).strip() for c in caps] if caps else [] for caps in captions]
    vocabulary = {
        t: i
        for i, t in enumerate(
            sorted({t for t in masked_alt if t} | {c for cs in masked_caps for c in cs if c})
        )
    }
    vectors = encode(list(vocabulary))
    rows = np.repeat(np.arange(n), [len(c) for c in masked_caps])
    alt_index = np.array([vocabulary.get(masked_alt[r], -1) for r in rows], dtype=np.int64)
    cap_index = np.array([vocabulary.get(c, -1) for cs in masked_caps for c in cs], dtype=np.int64)
    sims = np.zeros(len(rows), dtype=np.float32)
    usable = np.flatnonzero((alt_index >= 0) & (cap_index >= 0))
    for start in range(0, len(usable), PAIR_BLOCK):
        block = usable[start : start + PAIR_BLOCK]
        sims[block] = np.einsum("ij,ij->i", vectors[alt_index[block]], vectors[cap_index[block]])
    counts = np.array([len(c) for c in masked_caps], dtype=np.int64)
    has = counts > 0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[has]
    best = np.full(n, np.nan, dtype=np.float32)
    mean = np.full(n, np.nan, dtype=np.float32)
    best_caption = np.full(n, None, dtype=object)
    if len(starts):
        best[has] = np.maximum.reduceat(sims, starts)
        mean[has] = np.add.reduceat(sims.astype(np.float64), starts) / counts[has]
        hits = np.flatnonzero(sims == best[rows])  # every caption reaching its row's max
        first_rows, first = np.unique(rows[hits], return_index=True)  # the first one per row
        flat = [c for caps in captions if caps for c in caps]
        best_caption[first_rows] = [flat[i] for i in hits[first]]
    return best, mean, best_caption
