"""SIEVE's "medium phrase" masking (METHODS.md §4.4): remove generic phrases before comparing texts.

Two modes, in the :data:`MASKERS` registry:

- ``words`` (default): whole-word, case-insensitive matches; whitespace left behind is collapsed
  ("Photography of a photo of a dog" -> "Photography of a dog").
- ``raw``: the research code's behaviour, plain case-insensitive substring removal in list order
  ("photography" -> "graphy"), whitespace untouched.

Phrases are removed longest first in ``words`` mode, so "a photo of" goes before "a photo" and "photo".
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pairsift.registry import Registry

#: The medium phrase list of the SIEVE paper, in its order.
MEDIUM_PHRASES = (
    "an image of",
    "a photo of",
    "stock photo",
    "photo stock",
    "a photo",
    "an image",
    "image",
    "photo",
)

MASKERS: Registry[Callable[[tuple[str, ...]], Callable[[str], str]]] = Registry("masking mode")


@MASKERS.register("none")
def _none(phrases: tuple[str, ...]) -> Callable[[str], str]:
    return lambda text: text


@MASKERS.register("words")
def _words(phrases: tuple[str, ...]) -> Callable[[str], str]:
    ordered = sorted(phrases, key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(map(re.escape, p.split())) for p in ordered)
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    def mask(text: str) -> str:
        return " ".join(pattern.sub(" ", text).split())

    return mask


@MASKERS.register("raw")
def _raw(phrases: tuple[str, ...]) -> Callable[[str], str]:
    patterns = [re.compile(re.escape(p), re.IGNORECASE) for p in phrases]

    def mask(text: str) -> str:
        for pattern in patterns:
            text = pattern.sub("", text)
        return text

    return mask


def masker(mode: str, phrases: tuple[str, ...] = MEDIUM_PHRASES) -> Callable[[str], str]:
    """The masking function of ``mode`` (``none``, ``words`` or ``raw``)."""
    return MASKERS.get(mode)(phrases)
