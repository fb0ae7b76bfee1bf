"""Core data types: the columnar embedding batch, per-row status codes, uid and column helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from pairsift.uids import duplicate_mask, parse_uids

# --- status codes: failures are data ---------------------------------------------------------
OK = "ok"
MALFORMED_UID = "malformed_uid"
DUPLICATE_UID = "duplicate_uid"
NAN_IMAGE = "nan_image"
ZERO_NORM_IMAGE = "zero_norm_image"
NAN_TEXT = "nan_text"
ZERO_NORM_TEXT = "zero_norm_text"
MISSING_ALT_TEXT = "missing_alt_text"
STATUSES = (
    OK,
    MALFORMED_UID,
    DUPLICATE_UID,
    NAN_IMAGE,
    ZERO_NORM_IMAGE,
    NAN_TEXT,
    ZERO_NORM_TEXT,
    MISSING_ALT_TEXT,
)

# --- statuses of raw samples (embed, caption; counted per reason by reshard) -----------------
#: a tar member of the sample is a link, device, FIFO or sparse file, or its name is unsafe
#: (absolute, a ``..`` component, a control character, absurdly long: :mod:`pairsift.io.member_names`)
UNSAFE_MEMBER = "unsafe_member"
#: a member other than the image and caption (e.g. ``KEY.json``) is over its ``ReadLimits`` cap
MEMBER_TOO_LARGE = "member_too_large"
#: the caption is over ``ReadLimits.max_caption_bytes`` (it is not read)
CAPTION_TOO_LARGE = "caption_too_large"
#: the sample's metadata is broken (``KEY.json`` not a JSON object, or a uid not of 32 hex digits): the
#: uid was derived from shard and key, as every stage derives it
MALFORMED_METADATA = "malformed_metadata"
RAW_STATUSES = (UNSAFE_MEMBER, MEMBER_TOO_LARGE, CAPTION_TOO_LARGE, MALFORMED_METADATA)

#: What a scorer can require: the two embeddings, and the alt-text itself (a string column).
IMAGE = "image"
TEXT = "text"
ALT_TEXT = "alt_text"
#: ... and any column of the pool's metadata parquet, as ``column:<name>`` (e.g. DataComp's precomputed
#: ``clip_l14_similarity_score``), read in its own dtype
COLUMN_PREFIX = "column:"


def metadata_column(name: str) -> str:
    """The requirement of a metadata column: ``clip_l14_similarity_score`` -> ``column:clip_l14_...``."""
    return COLUMN_PREFIX + name


def metadata_columns(requires: frozenset[str]) -> list[str]:
    """The metadata columns among ``requires``, sorted."""
    return sorted(r[len(COLUMN_PREFIX) :] for r in requires if r.startswith(COLUMN_PREFIX))


UID_COLUMN = "uid"
STATUS_COLUMN = "status"


def image_key(family: str) -> str:
    """npz key of the image embeddings of a family: ``l14`` -> ``l14_img``."""
    return f"{family}_img"


def text_key(family: str) -> str:
    """npz key of the text embeddings of a family: ``l14`` -> ``l14_txt``."""
    return f"{family}_txt"


# --- the batch that scorers see --------------------------------------------------------------
def normalize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L2-normalise rows in float32; returns ``(normalised, finite_ok, nonzero_ok)``.

    Works on one float32 copy of ``x`` (the input is never modified). Rows that are not finite or
    have zero norm are set to 0 so they cannot poison a product.
    """
    out = np.array(x, dtype=np.float32, copy=True)
    finite = np.asarray(np.isfinite(out).all(axis=1))
    if not finite.all():
        out[~finite] = 0
    extreme = _extreme_rows(out)
    if len(extreme):  # squares would overflow or underflow float32: bring those rows near 1 first
        peak = np.maximum(out[extreme].max(axis=1), -out[extreme].min(axis=1))
        out[extreme] /= np.where(peak > 0, peak, np.float32(1))[:, None]
    norms = np.sqrt(np.einsum("ij,ij->i", out, out))
    nonzero: np.ndarray = norms > 0
    out /= np.where(nonzero, norms, np.float32(1))[:, None]
    return out, finite, nonzero


def _extreme_rows(x: np.ndarray) -> np.ndarray:
    """Rows whose largest magnitude is outside [1e-15, 1e15] (their float32 squares misbehave)."""
    if not len(x) or not x.shape[1]:
        return np.zeros(0, dtype=np.int64)
    peak = np.maximum(x.max(axis=1), -x.min(axis=1))
    return np.flatnonzero(((peak > 0) & (peak < 1e-15)) | (peak > 1e15))


def select_rows(array: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``array[mask]`` without a copy when every row is selected."""
    return array if mask.all() else array[mask]


@dataclass
class EmbeddingBatch:
    """One shard's rows as columns: uids, unit-norm float32 embeddings, alt-texts, and validity masks."""

    shard: str
    uids: np.ndarray
    uid_keys: np.ndarray
    uid_ok: np.ndarray
    image: np.ndarray | None = None
    text: np.ndarray | None = None
    image_ok: np.ndarray | None = None
    text_ok: np.ndarray | None = None
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    alt_text: np.ndarray | None = None  #: object array of str (None where missing)
    alt_text_ok: np.ndarray | None = None
    #: metadata columns by name, as read from the pool (their own dtype)
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.uids)

    @classmethod
    def build(
        cls,
        shard: str,
        uids: np.ndarray,
        image: np.ndarray | None = None,
        text: np.ndarray | None = None,
        alt_text: np.ndarray | None = None,
        columns: dict[str, np.ndarray] | None = None,
    ) -> EmbeddingBatch:
        """Validate uids, renormalise embeddings, check alt-texts and derive per-row status."""
        uids = np.asarray(uids, dtype=object)
        keys, well_formed = parse_uids(uids)
        dup = duplicate_mask(keys, well_formed)
        status = np.full(len(uids), OK, dtype=object)
        checks: list[tuple[np.ndarray, str]] = [(~well_formed, MALFORMED_UID), (dup, DUPLICATE_UID)]
        masks: dict[str, np.ndarray] = {}
        for modality, arr, nan_status, zero_status in (
            (IMAGE, image, NAN_IMAGE, ZERO_NORM_IMAGE),
            (TEXT, text, NAN_TEXT, ZERO_NORM_TEXT),
        ):
            if arr is None:
                continue
            normed, finite, nonzero = normalize_rows(arr)
            masks[modality] = finite & nonzero
            masks[modality + "_arr"] = normed
            checks += [(~finite, nan_status), (finite & ~nonzero, zero_status)]
        alt_ok = None
        if alt_text is not None:
            alt_text = np.asarray(alt_text, dtype=object)
            alt_ok = np.fromiter((isinstance(t, str) for t in alt_text), dtype=bool, count=len(alt_text))
            checks.append((~alt_ok, MISSING_ALT_TEXT))
        for bad, code in reversed(checks):  # the first problem listed wins
            status[bad] = code
        return cls(
            shard=shard,
            uids=uids,
            uid_keys=keys,
            uid_ok=well_formed & ~dup,
            image=masks.get(IMAGE + "_arr"),
            text=masks.get(TEXT + "_arr"),
            image_ok=masks.get(IMAGE),
            text_ok=masks.get(TEXT),
            status=status,
            alt_text=alt_text,
            alt_text_ok=alt_ok,
            columns=dict(columns or {}),
        )

    def valid(self, requires: frozenset[str]) -> np.ndarray:
        """Rows usable by a scorer that needs the given modalities."""
        ok = self.uid_ok.copy()
        for modality, mask in ((IMAGE, self.image_ok), (TEXT, self.text_ok), (ALT_TEXT, self.alt_text_ok)):
            if modality in requires:
                if mask is None:
                    raise ValueError(f"shard {self.shard!r}: no {modality} embeddings were loaded")
                ok &= mask
        return ok

    def take(self, rows: np.ndarray) -> EmbeddingBatch:
        """A new batch with the given rows, in that order (used for permutation tests)."""

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[rows]

        return EmbeddingBatch(
            shard=self.shard,
            uids=self.uids[rows],
            uid_keys=self.uid_keys[rows],
            uid_ok=self.uid_ok[rows],
            image=pick(self.image),
            text=pick(self.text),
            image_ok=pick(self.image_ok),
            text_ok=pick(self.text_ok),
            status=self.status[rows],
            alt_text=pick(self.alt_text),
            alt_text_ok=pick(self.alt_text_ok),
            columns={name: values[rows] for name, values in self.columns.items()},
        )


class PoolReader(ABC):
    """Re-iterable access to a pool's shards, one :class:`EmbeddingBatch` at a time."""

    @abstractmethod
    def shards(self) -> list[str]:
        """Shard names in processing order."""

    @abstractmethod
    def read(self, shard: str, requires: frozenset[str]) -> EmbeddingBatch:
        """Load one shard with the requested modalities."""
