"""The vocabulary of the world: shapes, colours, sizes, positions, counts, backgrounds, and a scene."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

SHAPES = ("circle", "square", "triangle", "star", "cross", "diamond", "hexagon")

#: Colour name -> RGB.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "yellow": (240, 220, 30),
    "orange": (245, 140, 20),
    "purple": (130, 40, 170),
    "pink": (250, 130, 190),
    "brown": (120, 70, 30),
    "black": (15, 15, 15),
    "white": (245, 245, 245),
    "grey": (128, 128, 128),
    "cyan": (30, 210, 220),
}
COLOUR_NAMES = tuple(COLOURS)

#: Size name -> object radius as a fraction of the image side.
SIZES: dict[str, float] = {"small": 0.07, "medium": 0.11, "large": 0.16}
SIZE_NAMES = tuple(SIZES)

#: Position name -> centre of the objects as fractions of the image side (x, y).
POSITIONS: dict[str, tuple[float, float]] = {
    "left": (0.27, 0.5),
    "right": (0.73, 0.5),
    "top": (0.5, 0.27),
    "bottom": (0.5, 0.73),
    "center": (0.5, 0.5),
}
POSITION_NAMES = tuple(POSITIONS)

COUNTS = (1, 2, 3, 4)
COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}

BACKGROUNDS = ("plain", "stripes", "dots", "gradient", "noise", "checker")

#: The attributes of a scene, in a fixed order (also the label columns).
ATTRIBUTES = ("shape", "colour", "size", "position", "count", "background")

#: The values each attribute can take.
VALUES: dict[str, tuple[Any, ...]] = {
    "shape": SHAPES,
    "colour": COLOUR_NAMES,
    "size": SIZE_NAMES,
    "position": POSITION_NAMES,
    "count": COUNTS,
    "background": BACKGROUNDS,
}


@dataclass(frozen=True)
class Scene:
    """What one image shows: ``count`` objects of one shape, colour and size at one position."""

    shape: str
    colour: str
    size: str
    position: str
    count: int
    background: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_value(self, attribute: str, value: Any) -> Scene:
        """A copy with one attribute changed."""
        return replace(self, **{attribute: value})

    def differences(self, other: Scene) -> list[str]:
        """Names of the attributes whose values differ, in :data:`ATTRIBUTES` order."""
        return [a for a in ATTRIBUTES if getattr(self, a) != getattr(other, a)]


def sample_scene(rng: np.random.Generator, **fixed: Any) -> Scene:
    """A scene with every attribute drawn uniformly, except those given in ``fixed``."""
    values = {a: fixed[a] if a in fixed else _choice(rng, VALUES[a]) for a in ATTRIBUTES}
    return Scene(**values)


def other_value(rng: np.random.Generator, attribute: str, value: Any) -> Any:
    """A value of ``attribute`` other than ``value``, uniformly."""
    return _choice(rng, tuple(v for v in VALUES[attribute] if v != value))


def _choice(rng: np.random.Generator, options: tuple[Any, ...]) -> Any:
    return options[int(rng.integers(len(options)))]
