"""How much one reader may take from one input: :class:`ReadLimits`, shared by every raw reader.

A member (tar member, image file, parquet cell, caption) over its cap is never read into memory: its
row gets a status (``image_too_large``, ``caption_too_large``, ``member_too_large``) and the other rows
go on. A shard whose decompressed bytes pass ``max_shard_bytes`` fails with an error naming the file.

The defaults are far above anything in DataComp or LAION (images there are a few hundred KB, captions a
few hundred bytes, JSON sidecars about 1 KB, shards a few hundred MB to a few GB), so a DataComp user never
meets them; they exist so that a hostile input (a gzip bomb, a 300 MB "caption") costs a bounded amount
of memory: at most ``max_image_bytes`` per member per decoding process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pairsift.errors import ConfigError

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30

#: an image of PIL's own pixel limit (89.5 Mpx) as a high-quality JPEG is ~30 MB; DataComp's are < 1 MB
DEFAULT_MAX_IMAGE_BYTES = 64 * MIB
#: CLIP tokenizers keep 77 tokens (~ 300 bytes); the longest alt-texts in LAION are a few KB
DEFAULT_MAX_CAPTION_BYTES = 64 * KIB
#: a DataComp ``KEY.json`` (uid, url, caption, sizes, EXIF) is about 1 KB
DEFAULT_MAX_JSON_BYTES = 1 * MIB
#: DataComp and LAION shards hold 10,000 samples, a few hundred MB to ~2 GB
DEFAULT_MAX_SHARD_BYTES = 64 * GIB
#: tar extended headers (pax records, GNU long names) are read whole by ``tarfile``; real ones are < 1 KB
MAX_HEADER_BYTES = 1 * MIB

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
CAPTION_SUFFIXES = (".txt",)
JSON_SUFFIXES = (".json",)


@dataclass(frozen=True)
class ReadLimits:
    """Byte caps of one reader: per image, caption and JSON sidecar, and per shard (after decompression).

    Any other tar member (``.cls``, ``.npy``, …) is capped at ``max_image_bytes``, the largest per-member cap.
    """

    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_caption_bytes: int = DEFAULT_MAX_CAPTION_BYTES
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1 (bytes), got {value!r}")

    def for_member(self, name: str) -> int:
        """The cap of a tar member, by its extension (case-insensitive)."""
        lowered = name.lower()
        if lowered.endswith(CAPTION_SUFFIXES):
            return self.max_caption_bytes
        if lowered.endswith(JSON_SUFFIXES):
            return self.max_json_bytes
        return self.max_image_bytes

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> ReadLimits:
        """From a recipe or config mapping; unknown keys are refused with the valid names."""
        raw = dict(raw or {})
        valid = set(asdict(cls()))
        unknown = sorted(set(raw) - valid)
        if unknown:
            raise ConfigError(
                f"unknown read limit(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}"
            )
        return cls(**raw)


def read_capped(fh: Any, cap: int) -> bytes | None:
    """At most ``cap`` bytes of a file object; ``None`` when it holds more (reads ``cap + 1`` at most)."""
    parts: list[bytes] = []
    left = cap + 1
    while left > 0:  # in blocks: a single read(cap + 1) would allocate the whole cap up front
        block: bytes = fh.read(min(left, 1 << 20))
        if not block:
            break
        parts.append(block)
        left -= len(block)
    return None if left <= 0 else b"".join(parts)


def coerce_limits(config: Any) -> None:
    """In a frozen config's ``__post_init__``: a ``limits`` mapping (a recipe's) becomes a ReadLimits."""
    value = config.limits
    if isinstance(value, dict) or value is None:
        object.__setattr__(config, "limits", ReadLimits.from_dict(value))
    elif not isinstance(value, ReadLimits):
        raise ConfigError(f"limits must be a mapping of byte caps, got {value!r}")
