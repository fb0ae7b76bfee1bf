"""Language identification of captions, through a small registry of backends.

- ``py3langid`` (the default): langid.py's naive Bayes model over byte n-grams, shipped inside the
  ``py3langid`` package (the ``baselines`` extra), so it runs offline with nothing to download.
- ``fasttext``: fastText's ``lid.176.bin`` / ``lid.176.ftz``, the model DataComp's baselines use, loaded
  from a path the user gives. The ``fasttext`` module is imported only when this backend is set up; the
  file is checked first (it exists, and starts with fastText's magic number), so that a wrong path or a
  file of another kind is reported as such whether or not the package is installed.

Every backend predicts the top language of each text, as DataComp does (newlines become spaces first; no
confidence threshold), and returns its ISO 639-1 code with the backend's confidence in it.
"""

from __future__ import annotations

import importlib
import struct
from abc import ABC, abstractmethod
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from pairsift.errors import ConfigError, InputError
from pairsift.registry import Registry

#: the first four bytes of every fastText model file (``.bin`` and quantised ``.ftz``), little-endian
FASTTEXT_MAGIC = 793712314
FASTTEXT_LABEL = "__label__"

LANGUAGE_IDS: Registry[type[LanguageIdentifier]] = Registry("language-ID backend")


class LanguageIdentifier(ABC):
    """A language-ID model: built from a model path (or none, for a shipped model), loaded by
    :meth:`load`, then :meth:`predict` maps texts to (codes, confidences)."""

    #: registry name, set by :func:`register`
    name = ""

    def __init__(self, model: str | None = None) -> None:
        self.model = None if model in (None, "") else str(model)

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What ran, as recorded in ``run.json``: the backend, its model file and version."""

    @abstractmethod
    def load(self) -> None:
        """Load the model (once per worker)."""

    @abstractmethod
    def predict(self, texts: list[str]) -> tuple[list[str], np.ndarray]:
        """The top language code of each text and the backend's confidence in it (float32)."""


def register(name: str) -> Any:
    def wrap(cls: type[LanguageIdentifier]) -> type[LanguageIdentifier]:
        cls.name = name
        return LANGUAGE_IDS.register(name)(cls)

    return wrap


def one_line(text: str) -> str:
    """A caption as DataComp gives it to the model: newlines replaced by spaces."""
    return text.replace("\n", " ")


@register("py3langid")
class Py3LangId(LanguageIdentifier):
    """py3langid's shipped model (97 languages), top label, normalised probability as the confidence."""

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model)
        self.model_: Any = None

    def describe(self) -> dict[str, Any]:
        try:
            version = metadata.version("py3langid")
        except metadata.PackageNotFoundError:
            version = None
        return {
            "backend": self.name,
            "model": self.model or "py3langid:data/model.npz.xz",
            "version": version,
        }

    def load(self) -> None:
        try:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier
        except ImportError as exc:
            raise ConfigError(
                "language-ID backend 'py3langid' needs the py3langid package: "
                "pip install 'pairsift[baselines]'"
            ) from exc
        path = self.model or MODEL_FILE
        if self.model is not None and not Path(self.model).is_file():
            raise InputError(f"py3langid model {self.model}: no such file")
        self.model_ = _py3langid_model(LanguageIdentifier, str(path))

    def predict(self, texts: list[str]) -> tuple[list[str], np.ndarray]:
        codes, confidences = [], np.empty(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            code, confidence = self.model_.classify(one_line(text))
            codes.append(str(code))
            confidences[i] = confidence
        return codes, confidences


@cache
def _py3langid_model(loader: Any, path: str) -> Any:
    """py3langid's model at ``path``, loaded once per process (decompressing it takes about a second)."""
    try:
        return loader.from_model_file(path, norm_probs=True)
    except Exception as exc:
        raise InputError(f"py3langid model {path}: cannot load: {exc}") from exc


def check_fasttext_file(path: str | None) -> Path:
    """``path`` as a fastText model file: it exists and starts with fastText's magic number.

    Read with the standard library only, so that the check holds where the ``fasttext`` package is absent.
    """
    if path is None:
        raise ConfigError(
            "language-ID backend 'fasttext' needs model=PATH (fastText's lid.176.bin or lid.176.ftz, "
            "the file DataComp's baselines use)"
        )
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(f"fastText model {path}: no such file")
    with file.open("rb") as fh:
        head = fh.read(8)
    if len(head) < 8 or struct.unpack("<i", head[:4])[0] != FASTTEXT_MAGIC:
        raise InputError(
            f"fastText model {path}: not a fastText model file (it starts with "
            f"{head[:4].hex() or 'nothing'}; "
            f"a fastText model starts with the magic number {struct.pack('<i', FASTTEXT_MAGIC).hex()}); "
            "expected lid.176.bin or lid.176.ftz"
        )
    return file


@register("fasttext")
class FastText(LanguageIdentifier):
    """fastText's language-ID model from a file (DataComp: ``lid.176.bin``); top label, its probability."""

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model)
        check_fasttext_file(self.model)  # a wrong path fails where the scorer is built, before any work
        self.model_: Any = None

    def describe(self) -> dict[str, Any]:
        file = Path(str(self.model)).expanduser()
        with file.open("rb") as fh:
            version = struct.unpack("<i", fh.read(8)[4:8])[0]
        return {"backend": self.name, "model": str(file.resolve()), "format_version": version}

    def load(self) -> None:
        file = check_fasttext_file(self.model)
        try:
            fasttext = importlib.import_module("fasttext")
        except ImportError as exc:
            raise ConfigError(
                "language-ID backend 'fasttext' needs the fasttext module, which is not installed: "
                "pip install fasttext-wheel"
            ) from exc
        try:
            self.model_ = fasttext.load_model(str(file))
        except Exception as exc:
            raise InputError(f"fastText model {self.model}: cannot load: {exc}") from exc

    def predict(self, texts: list[str]) -> tuple[list[str], np.ndarray]:
        if not texts:
            return [], np.empty(0, dtype=np.float32)
        labels, probabilities = self.model_.predict([one_line(t) for t in texts], k=1)
        codes = [str(label[0]).removeprefix(FASTTEXT_LABEL) if len(label) else "" for label in labels]
        confidences = np.array([p[0] if len(p) else np.nan for p in probabilities], dtype=np.float32)
        return codes, confidences


def language_identifier(backend: str, model: str | None = None) -> LanguageIdentifier:
    """The registered backend ``backend``, for ``model`` (a path; None: the backend's shipped model)."""
    return LANGUAGE_IDS.get(backend)(model)
