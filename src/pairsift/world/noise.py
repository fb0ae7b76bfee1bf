"""The kinds of web-like samples, their default shares, and the image-side noise they need."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CLEAN = "clean"
MISMATCHED = "mismatched"
BOILERPLATE = "boilerplate"
WRONG_ATTRIBUTE = "wrong_attribute"
OFF_DISTRIBUTION = "off_distribution"
NEAR_DUPLICATE = "near_duplicate"
CORRUPT = "corrupt"
KINDS = (CLEAN, MISMATCHED, BOILERPLATE, WRONG_ATTRIBUTE, OFF_DISTRIBUTION, NEAR_DUPLICATE, CORRUPT)

DEFAULT_SHARES: dict[str, float] = {
    CLEAN: 0.50,
    MISMATCHED: 0.10,
    BOILERPLATE: 0.10,
    WRONG_ATTRIBUTE: 0.10,
    OFF_DISTRIBUTION: 0.08,
    NEAR_DUPLICATE: 0.07,
    CORRUPT: 0.05,
}

OFF_DISTRIBUTION_VARIANTS = ("noise", "text", "solid")
CORRUPT_VARIANTS = ("truncated", "html", "empty")

_WORDS = (
    "SALE", "FREE", "shipping", "click here", "best price", "subscribe", "new", "limited offer",
    "download now", "login", "404", "menu", "contact us", "terms", "buy now", "50% off",
)  # fmt: skip

_HTML_ERROR = b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n"


def kind_counts(n: int, shares: dict[str, float]) -> dict[str, int]:
    """Split ``n`` samples over the kinds by largest remainder, so every count is within 1 of its share."""
    raw = {k: shares.get(k, 0.0) * n for k in KINDS}
    counts = {k: math.floor(v) for k, v in raw.items()}
    missing = n - sum(counts.values())
    for k in sorted(KINDS, key=lambda k: (counts[k] - raw[k], KINDS.index(k)))[:missing]:
        counts[k] += 1
    return counts


def off_distribution_image(variant: str, size: int, rng: np.random.Generator) -> Image.Image:
    """An image outside the world: pure noise, a few rendered words, or one solid colour."""
    if variant == "noise":
        return Image.fromarray(rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8))
    if variant == "solid":
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        return Image.new("RGB", (size, size), colour)
    if variant == "text":
        image = Image.new("RGB", (size, size), (250, 250, 250) if rng.random() < 0.7 else (20, 20, 20))
        ink = (0, 0, 0) if image.getpixel((0, 0)) == (250, 250, 250) else (240, 240, 240)
        draw = ImageDraw.Draw(image)
        font = ImageFont.load_default(size=max(8, size // 6))
        lines = int(rng.integers(1, 4))
        for i in range(lines):
            word = _WORDS[int(rng.integers(len(_WORDS)))]
            draw.text((2, 2 + i * size // lines), word, fill=ink, font=font)
        return image
    raise ValueError(
        f"unknown off-distribution variant {variant!r}; expected one of {OFF_DISTRIBUTION_VARIANTS}"
    )


def perturb(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A near-duplicate: shifted by up to 2 pixels (edge-padded), brightness scaled, slight pixel noise."""
    pixels = np.asarray(image, dtype=np.float32)
    dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))
    height, width = pixels.shape[:2]
    padded = np.pad(pixels, ((2, 2), (2, 2), (0, 0)), mode="edge")
    pixels = padded[2 - dy : 2 - dy + height, 2 - dx : 2 - dx + width]
    shifted = pixels * rng.uniform(0.9, 1.1) + rng.normal(0, 3, size=pixels.shape)
    return Image.fromarray(np.clip(shifted, 0, 255).astype(np.uint8))


def corrupt_bytes(variant: str, encoded: bytes) -> bytes:
    """Bytes no image decoder accepts: the encoded image cut to a third, an HTML error page, or nothing."""
    if variant == "truncated":
        return encoded[: len(encoded) // 3]
    if variant == "html":
        return _HTML_ERROR
    if variant == "empty":
        return b""
    raise ValueError(f"unknown corrupt variant {variant!r}; expected one of {CORRUPT_VARIANTS}")
