"""``text_entity`` on a lemma table built here: 1 when some caption word's first sense is a class."""

from __future__ import annotations

import numpy as np
import pytest

from pairsift.data import EmbeddingBatch
from pairsift.device import Compute
from pairsift.errors import InputError
from pairsift.scorers import build_scorer
from tests import pools

CPU = Compute.resolve("cpu")


def test_some_word_whose_first_sense_is_a_class(tmp_path):
    table = tmp_path / "lemmas.tsv"
    table.write_text("L\tn\tdog\t1\nL\tn\tfly\t0\nL\tv\tfly\t1\nX\tn\tmice\tmouse\nL\tn\tmouse\t1\n")
    texts = ["Dogs playing", "a fly", "three mice", None, "nothing here", "dog."]
    uids = np.array(pools.hex_uids(len(texts)), dtype=object)
    scorer = build_scorer("text_entity", {"lemmas": str(table)})
    scorer.setup(CPU, family="l14")
    got = scorer.score(EmbeddingBatch.build("s", uids, alt_text=np.array(texts, dtype=object)), CPU)
    assert np.array_equal(got, np.array([1, 0, 1, np.nan, 0, 0], dtype=np.float32), equal_nan=True)
    assert scorer.params()["lemmas"] == str(table)


def test_the_default_table_is_the_shipped_one(tmp_path):
    scorer = build_scorer("text_entity", {})
    assert scorer.params()["lemmas"] == "pairsift/assets/in21k_lemmas.tsv.gz"
    with pytest.raises(InputError, match="no such file"):
        build_scorer("text_entity", {"lemmas": str(tmp_path / "nope")}).setup(CPU, family="l14")
