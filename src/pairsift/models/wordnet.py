"""Does a word's first WordNet sense name an ImageNet-21k class? The lookup DataComp's text-based baseline
makes with nltk (``wordnet.synsets(word)[0].offset()`` in the ImageNet-21k ids), from a table file.

The table (``assets/in21k_lemmas.tsv.gz``, built by ``scripts/build_in21k_lemmas.py`` from the WordNet 3.0
database and the ImageNet-21k id list) holds, per part of speech, every lemma with a flag saying whether
its first sense is an ImageNet-21k class, and the exception lists of WordNet's morphology. A word is
looked up as nltk's WordNet reader does: lower-cased; for noun, verb, adjective, adverb in that order,
its base forms by WordNet's *morphy* (the exception list if the word is in it, else the word and its forms
by the suffix rules, applied again until some form is a lemma); the first sense of the first base form of
the first part of speech that has one is the word's first synset.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from pairsift.errors import InputError

#: parts of speech in the order nltk's ``synsets()`` lists them (``POS_LIST``)
POS_ORDER = ("n", "v", "a", "r")

#: WordNet's morphy suffix rules, (suffix, replacement), in the order nltk applies them
SUFFIX_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "n": (
        ("s", ""),
        ("ses", "s"),
        ("ves", "f"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ),
    "v": (
        ("s", ""),
        ("ies", "y"),
        ("es", "e"),
        ("es", ""),
        ("ed", "e"),
        ("ed", ""),
        ("ing", "e"),
        ("ing", ""),
    ),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}

DEFAULT_TABLE = "in21k_lemmas.tsv.gz"


@dataclass
class LemmaTable:
    """Lemmas per part of speech (lemma -> its first sense is an ImageNet-21k class) and exception lists."""

    lemmas: dict[str, dict[str, bool]] = field(default_factory=lambda: {p: {} for p in POS_ORDER})
    exceptions: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {p: {} for p in POS_ORDER})

    def base_forms(self, word: str, pos: str) -> list[str]:
        """WordNet's morphy of ``word`` (lower case) in ``pos``: its base forms that are lemmas, in order."""
        known = self.lemmas[pos]

        def lemmas_among(forms: list[str]) -> list[str]:
            return [f for f in dict.fromkeys(forms) if f in known]

        if word in self.exceptions[pos]:
            return lemmas_among([word, *self.exceptions[pos][word]])
        rules = SUFFIX_RULES[pos]

        def apply(forms: list[str]) -> list[str]:
            return [f[: -len(old)] + new for f in forms for old, new in rules if f.endswith(old)]

        forms = apply([word])
        found = lemmas_among([word, *forms])
        while not found and forms:
            forms = apply(forms)
            found = lemmas_among(forms)
        return found

    def first_sense_hit(self, word: str) -> bool:
        """True when the first synset nltk would list for ``word`` is an ImageNet-21k class."""
        word = word.lower()
        for pos in POS_ORDER:
            forms = self.base_forms(word, pos)
            if forms:
                return self.lemmas[pos][forms[0]]
        return False

    def any_word_hits(self, text: str) -> bool:
        """DataComp's text-based rule on a caption: some whitespace-separated word's first sense hits."""
        return any(self.first_sense_hit(w) for w in text.split())


def parse_table(lines: list[str], where: str) -> LemmaTable:
    """A :class:`LemmaTable` from the table's lines (see the module docstring); errors name the line."""
    table = LemmaTable()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\n").split("\t")
        kind, pos = fields[0], fields[1] if len(fields) > 1 else ""
        if pos not in POS_ORDER or kind not in ("L", "X"):
            raise InputError(
                f"{where}, line {number}: expected 'L<TAB>pos<TAB>lemma<TAB>0|1' or "
                f"'X<TAB>pos<TAB>inflected<TAB>base...' with pos in n, v, a, r; got {line[:80]!r}"
            )
        if kind == "L":
            if len(fields) != 4 or fields[3] not in ("0", "1"):
                raise InputError(
                    f"{where}, line {number}: a lemma row is 'L pos lemma 0|1'; got {line[:80]!r}"
                )
            table.lemmas[pos][fields[2]] = fields[3] == "1"
        else:
            if len(fields) < 4:
                raise InputError(
                    f"{where}, line {number}: an exception row needs a base form; got {line[:80]!r}"
                )
            table.exceptions[pos][fields[2]] = fields[3:]
    if not any(table.lemmas.values()):
        raise InputError(f"{where}: no lemma rows (L<TAB>pos<TAB>lemma<TAB>0|1)")
    return table


@cache
def load_table(path: str | None = None) -> LemmaTable:
    """The lemma table at ``path`` (gzip or plain text), or the shipped one when ``path`` is None."""
    if path is None:
        data = resources.files("pairsift").joinpath("assets", DEFAULT_TABLE).read_bytes()
        where = f"pairsift/assets/{DEFAULT_TABLE}"
    else:
        file = Path(path).expanduser()
        if not file.is_file():
            raise InputError(f"lemma table {path}: no such file")
        data, where = file.read_bytes(), str(file)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{where}: cannot decompress: {exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 text: {exc}") from exc
    return parse_table(text.splitlines(), where)
