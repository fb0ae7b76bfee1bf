"""Core data types: the columnar embedding batch, per-row status codes, uid and column helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

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

#: What a scorer can require: the two embeddings, and the alt-text itself (a string column).
IMAGE = "image"
TEXT = "text"
ALT_TEXT = "alt_text"

UID_COLUMN = "uid"
STATUS_COLUMN = "status"


def image_key(family: str) -> str:
    """npz key of the image embeddings of a family: ``l14`` -> ``l14_img``."""
    return f"{family}_img"


def text_key(family: str) -> str:
    """npz key of the text embeddings of a family: ``l14`` -> ``l14_txt``."""
    return f"{family}_txt"


# --- uids ------------------------------------------------------------------------------------
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX_VALUE[_c] = 10 + _i


def parse_uids(uids: np.ndarray | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Parse 32-hex uid strings into ``(keys, ok)``.

    ``keys`` is an ``(n, 2)`` uint64 array of ``(hi, lo) = divmod(int(uid, 16), 2**64)``, the
    DataComp subset-file convention; ``ok`` marks the well-formed uids (rows of malformed ones are 0).
    Arrow string columns whose values are all 32 bytes long are parsed without a Python-level copy.
    """
    if isinstance(uids, (pa.Array, pa.ChunkedArray)):
        raw = _fixed_width_bytes(uids)
        if raw is not None:
            return keys_from_hex(raw, np.ones(len(raw), dtype=bool))
        uids = np.asarray(uids.to_numpy(zero_copy_only=False), dtype=object)
    n = len(uids)
    text = [u if isinstance(u, str) else "" for u in uids]
    lengths = np.fromiter(map(len, text), dtype=np.int64, count=n)
    fixed = np.array([t.encode("ascii", "replace") if len(t) == 32 else b"" for t in text], dtype="S32")
    raw = fixed.view(np.uint8).reshape(n, 32) if n else np.zeros((0, 32), np.uint8)
    return keys_from_hex(raw, lengths == 32)


def _fixed_width_bytes(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """The ``(n, 32)`` bytes of a string column when every value is exactly 32 bytes, else None."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        return None
    try:
        fixed = array.cast(pa.binary(32))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    start = fixed.offset * 32
    buffer = np.frombuffer(fixed.buffers()[1], dtype=np.uint8)
    return buffer[start : start + 32 * len(fixed)].reshape(len(fixed), 32)


def keys_from_hex(raw: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 32)`` ASCII hex bytes -> ``((n, 2) uint64 keys, ok)``; bad rows become key (0, 0)."""
    digits = _HEX_VALUE[raw]
    ok = ok & (digits != 255).all(axis=1)
    digits = np.where(ok[:, None], digits, np.uint8(0))
    packed = np.ascontiguousarray((digits[:, 0::2] << 4) | digits[:, 1::2])
    keys = packed.view(">u8").astype(np.uint64) if len(packed) else np.zeros((0, 2), np.uint64)
    return keys.reshape(len(raw), 2), ok


def format_uids(keys: np.ndarray) -> np.ndarray:
    """Inverse of :func:`parse_uids`: ``(n, 2)`` uint64 -> 32-hex lowercase strings (object array)."""
    n = len(keys)
    raw = np.ascontiguousarray(np.asarray(keys, dtype=np.uint64).astype(">u8")).view(np.uint8).reshape(n, 16)
    text = np.empty((n, 32), dtype=np.uint8)
    text[:, 0::2] = _HEX_DIGITS[raw >> 4]
    text[:, 1::2] = _HEX_DIGITS[raw & 15]
    return text.view("S32").reshape(n).astype(str).astype(object)


def duplicate_mask(keys: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """True for every well-formed uid that already occurred earlier in the same array."""
    dup = np.zeros(len(keys), dtype=bool)
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return dup
    order = idx[np.lexsort((idx, keys[idx, 1], keys[idx, 0]))]
    same = (keys[order[1:]] == keys[order[:-1]]).all(axis=1)
    dup[order[1:][same]] = True
    return dup


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
        )
