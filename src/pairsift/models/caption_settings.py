"""SIEVE's decoding settings and seeding (no torch import, so the CLI can show the defaults cheaply)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from pairsift.errors import ConfigError

DEFAULT_CAPTIONER = "Salesforce/blip-image-captioning-base"


@dataclass(frozen=True)
class CaptionSettings:
    """Decoding settings. Defaults: SIEVE's (Mahmoud et al. 2024, METHODS.md §4.1).

    ``min_length``/``max_length`` count decoder tokens including the prompt, as ``generate`` and the
    research code count them. ``sample=False`` decodes greedily (one caption per image is then the
    only sensible ``num_captions``).
    """

    prompt: str = "a picture of "
    num_captions: int = 8
    top_p: float = 0.9
    min_length: int = 5
    max_length: int = 20
    repetition_penalty: float = 1.1
    sample: bool = True

    def __post_init__(self) -> None:
        if self.num_captions < 1:
            raise ConfigError(f"num_captions must be >= 1, got {self.num_captions}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 1 <= self.min_length <= self.max_length:
            raise ConfigError(
                f"need 1 <= min_length <= max_length, got min_length={self.min_length}, "
                f"max_length={self.max_length}"
            )
        if self.repetition_penalty <= 0:
            raise ConfigError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if not self.sample and self.num_captions > 1:
            raise ConfigError(
                "greedy decoding (sample=False) gives one caption per image: set num_captions=1"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def batch_seed(seed: int, shard: str, index: int) -> int:
    """The sampling seed of one batch: a 63-bit hash of (run seed, shard, batch index)."""
    digest = hashlib.blake2b(f"{seed}/{shard}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1
