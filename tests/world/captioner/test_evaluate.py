"""Reading captions back into attribute values, and the accuracy figures."""

import math

from pairsift.world.attributes import Scene
from pairsift.world.captioner.evaluate import read_caption, score_captions

SCENE = Scene(shape="cross", colour="red", size="small", position="left", count=3, background="stripes")


def test_read_caption_names_each_attribute():
    said = read_caption("a photo of three small red crosses on the left, on a striped background")
    assert said == {
        "count": {3},
        "size": {"small"},
        "colour": {"red"},
        "shape": {"cross"},
        "position": {"left"},
        "background": {"stripes"},
    }
    assert read_caption("click to enlarge") == {}


def test_scores():
    texts = ["three red crosses", "two blue crosses", "red and blue crosses", "nothing at all"]
    out = score_captions(texts, [SCENE] * 4)
    assert out["shape_accuracy"] == 1.0
    assert out["colour_accuracy"] == 1 / 3  # "red and blue" names two colours: not exact
    assert out["count_accuracy"] == 1 / 2
    assert out["exact"] == 1 / 4 and out["mentions"] == (3 + 3 + 2 + 0) / 4
    assert math.isnan(out["size_accuracy"])
