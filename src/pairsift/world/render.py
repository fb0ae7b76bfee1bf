"""Drawing a scene: a numpy background texture and PIL polygons on top."""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw

from pairsift.world.attributes import COLOURS, POSITIONS, SIZES, Scene

#: Unit offsets of the objects of a group, by count (multiplied by the spacing).
_LAYOUTS: dict[int, tuple[tuple[float, float], ...]] = {
    1: ((0.0, 0.0),),
    2: ((-1.0, 0.0), (1.0, 0.0)),
    3: ((-1.0, 0.85), (1.0, 0.85), (0.0, -0.85)),
    4: ((-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)),
}
_SPACING = 1.3  # distance from the group centre to an object centre, in object radii


def render_scene(scene: Scene, size: int, rng: np.random.Generator) -> Image.Image:
    """An RGB ``size`` x ``size`` image of ``scene``; ``rng`` draws the textures and the jitter."""
    image = Image.fromarray(background(scene.background, size, _object_is_light(scene.colour), rng))
    draw = ImageDraw.Draw(image)
    radius = SIZES[scene.size] * size
    layout = _LAYOUTS[scene.count]
    extent = radius * (1 + _SPACING * max(max(abs(x), abs(y)) for x, y in layout))
    fx, fy = POSITIONS[scene.position]
    jitter = rng.uniform(-0.03, 0.03, size=2) * size
    cx = float(np.clip(fx * size + jitter[0], extent, size - extent))
    cy = float(np.clip(fy * size + jitter[1], extent, size - extent))
    fill = COLOURS[scene.colour]
    angle = float(rng.uniform(-0.25, 0.25))
    for ox, oy in layout:
        x, y = cx + ox * _SPACING * radius, cy + oy * _SPACING * radius
        if scene.shape == "circle":
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
        else:
            draw.polygon(shape_polygon(scene.shape, x, y, radius, angle), fill=fill)
    return image


def shape_polygon(shape: str, x: float, y: float, r: float, angle: float = 0.0) -> list[tuple[float, float]]:
    """Vertices of a polygonal shape of radius ``r`` centred at ``(x, y)``, rotated by ``angle`` radians."""
    if shape == "square":
        points = _regular(4, 0.95, math.pi / 4)
    elif shape == "diamond":
        points = [(0.0, -1.0), (0.7, 0.0), (0.0, 1.0), (-0.7, 0.0)]
    elif shape == "triangle":
        points = _regular(3, 1.0, -math.pi / 2)
    elif shape == "hexagon":
        points = _regular(6, 1.0, 0.0)
    elif shape == "star":
        outer, inner = _regular(5, 1.0, -math.pi / 2), _regular(5, 0.42, -math.pi / 2 + math.pi / 5)
        points = [p for pair in zip(outer, inner, strict=True) for p in pair]
    elif shape == "cross":
        a, b = 0.33, 1.0
        points = [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a), (-b, a)]
        points += [(-b, -a), (-a, -a)]
    else:
        raise ValueError(f"unknown shape {shape!r}")
    c, s = math.cos(angle), math.sin(angle)
    return [(x + r * (px * c - py * s), y + r * (px * s + py * c)) for px, py in points]


def _regular(n: int, scale: float, phase: float) -> list[tuple[float, float]]:
    step = 2 * math.pi / n
    return [(scale * math.cos(phase + i * step), scale * math.sin(phase + i * step)) for i in range(n)]


def _object_is_light(colour: str) -> bool:
    r, g, b = COLOURS[colour]
    return 0.299 * r + 0.587 * g + 0.114 * b > 140


def background(kind: str, size: int, dark: bool, rng: np.random.Generator) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 texture in two muted tones, dark ones when ``dark`` (for light objects)."""
    base = 45.0 if dark else 205.0
    tints = rng.uniform(-25, 25, size=(2, 3))
    a = base + tints[0]
    b = base + (45.0 if dark else -45.0) + tints[1]
    if kind == "noise":
        grain = rng.normal(0, 22, size=(size, size, 1)).astype(np.float32)
        return np.clip(a.astype(np.float32) + grain, 0, 255).astype(np.uint8)
    if kind == "gradient":
        t = _ramp(size, int(rng.integers(_DIRECTIONS)))[..., None]
        return (a.astype(np.float32) * (1 - t) + b.astype(np.float32) * t).clip(0, 255).astype(np.uint8)
    if kind == "plain":
        mask = _pattern(size, "plain", 0, 0)
    elif kind == "stripes":
        mask = _pattern(size, kind, int(rng.integers(3, 7)), int(rng.integers(3)))
    elif kind == "dots":
        mask = _pattern(size, kind, int(rng.integers(6, 10)), 0)
    elif kind == "checker":
        mask = _pattern(size, kind, int(rng.integers(4, 9)), 0)
    else:
        raise ValueError(f"unknown background {kind!r}")
    palette = np.clip(np.stack([a, b]), 0, 255).astype(np.uint8)
    return palette.take(mask, axis=0).reshape(size, size, 3)


_DIRECTIONS = 16


@functools.lru_cache(maxsize=64)
def _pattern(size: int, kind: str, step: int, orientation: int) -> np.ndarray:
    """Index (0 or 1) of the tone of each pixel (flat) of a two-tone pattern; cached, they repeat."""
    yy, xx = np.mgrid[0:size, 0:size]
    if kind == "stripes":
        mask = ((xx, yy, xx + yy)[orientation] // step) % 2 == 1
    elif kind == "dots":
        dx, dy = (xx % step) - step / 2, (yy % step) - step / 2
        mask = dx * dx + dy * dy <= (step / 4) ** 2
    elif kind == "checker":
        mask = ((xx // step) + (yy // step)) % 2 == 1
    else:
        mask = np.zeros((size, size), dtype=bool)
    return mask.astype(np.intp).ravel()


@functools.lru_cache(maxsize=64)
def _ramp(size: int, direction: int) -> np.ndarray:
    """A linear ramp from 0 to 1 across the image along one of :data:`_DIRECTIONS` directions."""
    yy, xx = np.mgrid[0:size, 0:size]
    theta = 2 * math.pi * direction / _DIRECTIONS
    t = np.cos(theta) * xx + np.sin(theta) * yy
    return ((t - t.min()) / max(float(t.max() - t.min()), 1e-6)).astype(np.float32)
