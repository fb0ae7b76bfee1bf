"""How well a captioner describes held-out world scenes: per-attribute accuracy of what it says.

A caption is read back into attribute values by the world's own words (colours, shape nouns, sizes,
count words, position and background phrases). For each attribute, accuracy counts the captions that
mention it and says how often the value is right; ``exact`` is the share of captions whose every
mentioned attribute is right, ``mentions`` how many attributes a caption names on average. Scored for
the greedy caption and for the sampled captions (SIEVE's settings).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from pairsift.models.caption_settings import CaptionSettings
from pairsift.world import captions as world_captions
from pairsift.world.attributes import ATTRIBUTES, COUNT_WORDS, VALUES, Scene
from pairsift.world.captioner.train import normalise, render_scenes

_BACKGROUND_WORDS = {phrase.split()[1]: name for name, phrase in world_captions._BACKGROUND_PHRASES.items()}
_POSITION_WORDS = {"left": "left", "right": "right", "top": "top", "bottom": "bottom", "center": "center"}


def _lexicon() -> dict[str, tuple[str, Any]]:
    """word -> (attribute, value)."""
    words: dict[str, tuple[str, Any]] = {}
    for shape in VALUES["shape"]:
        words[shape] = ("shape", shape)
        words[world_captions._PLURALS.get(shape, shape + "s")] = ("shape", shape)
    words.update({c: ("colour", c) for c in VALUES["colour"]})
    words.update({s: ("size", s) for s in VALUES["size"]})
    words.update({w: ("count", n) for n, w in COUNT_WORDS.items()})
    words.update({w: ("position", p) for w, p in _POSITION_WORDS.items()})
    words.update({w: ("background", b) for w, b in _BACKGROUND_WORDS.items()})
    return words


LEXICON = _lexicon()


def read_caption(text: str) -> dict[str, set[Any]]:
    """The attribute values a caption names: ``{"colour": {"red"}, "count": {3}, ...}``."""
    said: dict[str, set[Any]] = {}
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in LEXICON:
            attribute, value = LEXICON[word]
            said.setdefault(attribute, set()).add(value)
    return said


def score_captions(texts: list[str], scenes: list[Scene]) -> dict[str, float]:
    """Per-attribute accuracy, exact share and mean mentions of captions of the given scenes."""
    right = dict.fromkeys(ATTRIBUTES, 0)
    named = dict.fromkeys(ATTRIBUTES, 0)
    exact = mentions = 0
    for text, scene in zip(texts, scenes, strict=True):
        said = read_caption(text)
        ok = True
        for attribute, values in said.items():
            named[attribute] += 1
            correct = values == {getattr(scene, attribute)}
            right[attribute] += correct
            ok &= correct
        exact += ok and bool(said)
        mentions += len(said)
    out = {f"{a}_accuracy": right[a] / named[a] if named[a] else float("nan") for a in ATTRIBUTES}
    out["exact"] = exact / len(texts)
    out["mentions"] = mentions / len(texts)
    return out


@torch.inference_mode()
def evaluate_captioner(model: Any, processor: Any, *, scenes: int = 500, seed: int = 1000) -> dict[str, Any]:
    """Caption ``scenes`` held-out renderings (another seed than training) and score what is said."""
    from pairsift.models.captioners import BlipCaptioner

    data = render_scenes(scenes, model.config.vision_config.image_size, seed, jpeg_quality=90)
    captioner = BlipCaptioner(model, processor, device=torch.device("cpu"), dtype=torch.float32)
    greedy_settings = CaptionSettings(num_captions=1, sample=False)
    sampled_settings = CaptionSettings()
    greedy: list[str] = []
    sampled: list[str] = []
    for start in range(0, scenes, 100):
        pixels = normalise(data.images[start : start + 100])
        greedy += [c[0] for c in captioner.caption(pixels, greedy_settings, seed=0)]
        sampled += [t for c in captioner.caption(pixels, sampled_settings, seed=start) for t in c]
    per_image = sampled_settings.num_captions
    return {
        "scenes": scenes,
        "seed": seed,
        "greedy": score_captions(greedy, data.scenes),
        "sampled": score_captions(sampled, [s for s in data.scenes for _ in range(per_image)]),
        "examples": [
            {"scene": s.to_dict(), "greedy": g, "sampled": sampled[i * per_image : (i + 1) * per_image]}
            for i, (s, g) in enumerate(zip(data.scenes[:3], greedy[:3], strict=True))
        ],
        "distinct_sampled_per_image": float(
            np.mean([len(set(sampled[i * per_image : (i + 1) * per_image])) for i in range(scenes)])
        ),
    }
