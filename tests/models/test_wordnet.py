"""The ImageNet-21k lemma lookup: WordNet's morphology and part-of-speech order on a table built here, and
the shipped table's format."""

from __future__ import annotations

import gzip

import pytest

from pairsift.errors import InputError
from pairsift.models.wordnet import load_table, parse_table

ROWS = [
    "# a comment",
    "L\tn\tdog\t1",
    "L\tv\tdog\t0",  # a noun sense comes first: 'dog' hits
    "L\tn\tbox\t1",
    "L\tn\tfly\t0",
    "L\tv\tfly\t1",  # the noun 'fly' comes first: no hit though the verb's flag is 1
    "L\tv\tsing\t1",  # no noun 'sing': the verb's first sense decides
    "L\tn\tchurch\t1",
    "L\tn\tgoose\t1",
    "L\tn\tgooses\t0",
    "L\ta\tbig\t1",
    "L\tn\tice_cream\t1",
    "L\tn\tlady\t1",
    "X\tn\tgeese\tgoose",
    "X\tv\tsang\tsing",
]


@pytest.fixture
def table():
    return parse_table(ROWS, "test")


@pytest.mark.parametrize(
    "word,hit",
    [
        ("dog", True),
        ("DOGS", True),  # lower-cased, then s -> ''
        ("boxes", True),  # xes -> x
        ("churches", True),  # ches -> ch
        ("ladies", True),  # ies -> y
        ("geese", True),  # the exception list
        ("fly", False),  # the noun's first sense, not the verb's
        ("singing", True),  # only a verb: ing -> ''
        ("sang", True),  # a verb exception
        ("bigger", False),  # er -> '' gives 'bigg', not 'big': WordNet's rules do not undouble
        ("biggest", False),
        ("big", True),
        ("ice_cream", True),
        ("dog,", False),  # punctuation stays on the word, as with str.split()
        ("cat", False),
    ],
)
def test_a_word_hits_when_its_first_sense_is_a_class(table, word, hit):
    assert table.first_sense_hit(word) is hit


def test_morphy_keeps_the_word_itself_first(table):
    assert table.base_forms("gooses", "n") == ["gooses", "goose"]
    assert table.first_sense_hit("gooses") is False


def test_a_caption_hits_when_some_word_does(table):
    assert table.any_word_hits("two Geese\non the lake")
    assert not table.any_word_hits("a fly in the sky")
    assert not table.any_word_hits("")


def test_a_table_file_loads_from_gzip_and_bad_rows_are_named(tmp_path):
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(gzip.compress("\n".join(ROWS).encode()))
    assert load_table(str(path)).first_sense_hit("geese")
    bad = tmp_path / "bad.tsv"
    bad.write_text("L\tn\tdog\t1\nL\tq\tdog\t1\n")
    with pytest.raises(InputError, match=r"bad\.tsv, line 2: expected"):
        load_table(str(bad))
    with pytest.raises(InputError, match="no such file"):
        load_table(str(tmp_path / "nope.tsv"))


def test_the_shipped_table_holds_wordnet_and_imagenet_21k():
    table = load_table()
    assert len(table.lemmas["n"]) > 100_000 and table.exceptions["n"]["geese"] == ["goose"]
    assert table.first_sense_hit("dogs") and table.first_sense_hit("tench")
    assert not table.first_sense_hit("the") and not table.first_sense_hit("of")
