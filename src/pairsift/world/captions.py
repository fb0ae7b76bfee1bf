"""Caption templates: many phrasings of a scene, each mentioning a known subset of its attributes."""

from __future__ import annotations

import string

import numpy as np

from pairsift.world.attributes import COUNT_WORDS, Scene

_PLURALS = {"cross": "crosses"}

_POSITION_PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "center": "in the center",
}

_BACKGROUND_PHRASES = {
    "plain": "a plain background",
    "stripes": "a striped background",
    "dots": "a dotted background",
    "gradient": "a gradient background",
    "noise": "a noisy background",
    "checker": "a checkered background",
}

#: Caption templates. Placeholders: {count} (word), {size}, {colour}, {shapes} (noun, plural when
#: count > 1), {position} (phrase), {background} (phrase).
TEMPLATES = (
    "a photo of {count} {size} {colour} {shapes} on {background}",
    "{count} {colour} {shapes} {position}",
    "{colour} {shapes}, {count} of them, {position}",
    "a picture of {count} {size} {colour} {shapes} {position} on {background}",
    "{size} {colour} {shapes} {position}",
    "an image with {count} {colour} {shapes}",
    "{count} {size} {shapes} in {colour} {position}",
    "{colour} {shapes} {position} on {background}",
    "a drawing of {count} {colour} {shapes}",
    "{count} {shapes} {position}, {colour} and {size}",
    "close-up of {count} {colour} {shapes} on {background}",
    "{shapes} in {colour}, {size}, {count} of them",
)

#: Placeholder -> the scene attribute it shows.
_ATTRIBUTE_OF = {
    "count": "count",
    "size": "size",
    "colour": "colour",
    "shapes": "shape",
    "position": "position",
    "background": "background",
}

#: Generic captions that describe no image in particular, as found on the web.
BOILERPLATE = (
    "stock photo",
    "image",
    "photo",
    "click to enlarge",
    "untitled",
    "thumbnail",
    "image may contain: object",
    "free download",
    "royalty free vector illustration",
    "view full size",
    "picture",
    "no description available",
    "img_0001.jpg",
    "product image",
    "see more",
)


def mentioned(template: str) -> tuple[str, ...]:
    """The scene attributes a template mentions, in the order they appear."""
    fields = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return tuple(_ATTRIBUTE_OF[f] for f in fields)


def render_caption(scene: Scene, template: str) -> str:
    """Fill ``template`` with the words for ``scene``."""
    noun = scene.shape if scene.count == 1 else _PLURALS.get(scene.shape, scene.shape + "s")
    return template.format(
        count=COUNT_WORDS[scene.count],
        size=scene.size,
        colour=scene.colour,
        shapes=noun,
        position=_POSITION_PHRASES[scene.position],
        background=_BACKGROUND_PHRASES[scene.background],
    )


def choose_template(rng: np.random.Generator, must_mention: str | None = None) -> str:
    """A random template, one that mentions ``must_mention`` when given."""
    options = (
        TEMPLATES if must_mention is None else tuple(t for t in TEMPLATES if must_mention in mentioned(t))
    )
    return options[int(rng.integers(len(options)))]


def boilerplate(rng: np.random.Generator) -> str:
    return BOILERPLATE[int(rng.integers(len(BOILERPLATE)))]
