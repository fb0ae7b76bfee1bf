from __future__ import annotations

import numpy as np
import pytest

from pairsift.world.attributes import ATTRIBUTES, BACKGROUNDS, SHAPES, VALUES, sample_scene
from pairsift.world.captions import TEMPLATES, choose_template, mentioned, render_caption
from pairsift.world.noise import DEFAULT_SHARES, KINDS, kind_counts
from pairsift.world.render import render_scene


def test_every_attribute_is_mentioned_by_some_template() -> None:
    assert {a for t in TEMPLATES for a in mentioned(t)} == set(ATTRIBUTES)
    rng = np.random.default_rng(0)
    for attribute in ATTRIBUTES:
        assert attribute in mentioned(choose_template(rng, must_mention=attribute))


def test_captions_use_the_scene_words() -> None:
    scene = sample_scene(np.random.default_rng(0), shape="cross", colour="red", count=2, size="small")
    caption = render_caption(scene, "a photo of {count} {size} {colour} {shapes} on {background}")
    assert caption.startswith("a photo of two small red crosses on a ")
    assert render_caption(scene.with_value("count", 1), "{count} {shapes}") == "one cross"


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_draws_object_pixels(shape: str) -> None:
    rng = np.random.default_rng(1)
    scene = sample_scene(rng, shape=shape, colour="red", background="plain", size="large", count=1)
    pixels = np.asarray(render_scene(scene, 64, rng)).astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert 60 < red.sum() < 64 * 64 / 2


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_backgrounds_render_at_any_size(background: str) -> None:
    rng = np.random.default_rng(2)
    for size in (16, 48):
        image = render_scene(sample_scene(rng, background=background), size, rng)
        assert image.size == (size, size) and image.mode == "RGB"


def test_kind_counts_sum_to_n_and_stay_within_one_of_the_share() -> None:
    for n in (0, 1, 7, 333, 1000):
        counts = kind_counts(n, DEFAULT_SHARES)
        assert sum(counts.values()) == n and set(counts) == set(KINDS)
        assert all(abs(counts[k] - DEFAULT_SHARES[k] * n) < 1 for k in KINDS)
    assert len(VALUES["colour"]) == 12
