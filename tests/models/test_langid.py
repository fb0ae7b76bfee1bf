"""Language-ID backends: py3langid's shipped model, and the checks fastText's model file passes before the
(optional, not installed here) ``fasttext`` module loads it."""

from __future__ import annotations

import importlib.util
import struct

import pytest

from pairsift.errors import ConfigError, InputError
from pairsift.models.langid import FASTTEXT_MAGIC, LANGUAGE_IDS, check_fasttext_file, language_identifier

HAS_FASTTEXT = importlib.util.find_spec("fasttext") is not None


def test_the_backends_are_registered():
    assert {"py3langid", "fasttext"} <= set(LANGUAGE_IDS.names())


def test_py3langid_gives_the_top_language_and_its_probability():
    identifier = language_identifier("py3langid")
    identifier.load()
    codes, confidence = identifier.predict(
        ["a photo of a dog on the grass", "un chien sur l'herbe verte", "ein Hund auf\ndem grünen Rasen"]
    )
    assert codes == ["en", "fr", "de"]
    assert confidence.dtype.name == "float32" and ((confidence > 0) & (confidence <= 1)).all()
    assert identifier.describe()["backend"] == "py3langid" and identifier.describe()["version"]


def test_fasttext_needs_a_model_path():
    with pytest.raises(ConfigError, match="needs model=PATH"):
        language_identifier("fasttext")


def test_a_missing_fasttext_model_is_named(tmp_path):
    with pytest.raises(InputError, match=r"fastText model .*lid\.176\.bin: no such file"):
        language_identifier("fasttext", str(tmp_path / "lid.176.bin"))


@pytest.mark.parametrize("content", [b"", b"not a model at all", struct.pack("<ii", 12345, 12)])
def test_a_file_that_is_not_a_fasttext_model_is_refused(tmp_path, content):
    path = tmp_path / "lid.176.bin"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not a fastText model file"):
        check_fasttext_file(str(path))
    with pytest.raises(InputError, match=str(path)):
        language_identifier("fasttext", str(path))


@pytest.mark.skipif(HAS_FASTTEXT, reason="the fasttext module is installed")
def test_a_fasttext_model_without_the_fasttext_module_says_what_to_install(tmp_path):
    path = tmp_path / "lid.176.ftz"
    path.write_bytes(struct.pack("<ii", FASTTEXT_MAGIC, 12) + b"\0" * 64)
    identifier = language_identifier("fasttext", str(path))  # the header passes the check
    assert identifier.describe() == {
        "backend": "fasttext",
        "model": str(path.resolve()),
        "format_version": 12,
    }
    with pytest.raises(ConfigError, match="pip install fasttext-wheel"):
        identifier.load()
