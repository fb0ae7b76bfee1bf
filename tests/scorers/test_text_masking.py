"""SIEVE's phrase masking: whole words by default, the research code's raw substrings as an option."""

import pytest

from pairsift.registry import UnknownNameError
from pairsift.scorers.text_masking import MEDIUM_PHRASES, masker


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A photo of a dog", "a dog"),
        ("an image of  two   cats", "two cats"),
        ("Stock Photo - red car", "- red car"),
        ("photography of a photo of a dog", "photography of a dog"),
        ("photographer's image", "photographer's"),
        ("imagery", "imagery"),
        ("a\tphoto\nof the sea", "the sea"),
        ("photo", ""),
        ("image image photo", ""),
        ("a photo", ""),
        ("a photograph", "a photograph"),
    ],
)
def test_words_mode(text, expected):
    assert masker("words")(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("photography of a photo of a dog", "graphy of  a dog"),
        ("A PHOTO OF a dog", " a dog"),
        ("imagery", "ry"),
        ("photo", ""),
    ],
)
def test_raw_mode_is_the_research_behaviour(text, expected):
    assert masker("raw")(text) == expected


def test_none_mode_and_phrase_list():
    assert masker("none")("a photo of a dog") == "a photo of a dog"
    assert MEDIUM_PHRASES[0] == "an image of" and len(MEDIUM_PHRASES) == 8
    with pytest.raises(UnknownNameError):
        masker("fuzzy")
