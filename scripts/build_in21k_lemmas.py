"""Build ``src/pairsift/assets/in21k_lemmas.tsv.gz``, the lemma table of the ``text_entity`` scorer.

Inputs (both offline here):

- the WordNet 3.0 database directory (``index.noun`` ... ``index.adv`` and ``noun.exc`` ... ``adv.exc``),
  e.g. Debian's ``wordnet-base`` package: ``dpkg-deb -x wordnet-base_*.deb /tmp/wn`` then
  ``--wordnet /tmp/wn/usr/share/wordnet``; this is the database nltk's ``wordnet`` corpus holds;
- the ImageNet-21k class list, one WordNet noun id ``nOOOOOOOO`` a line (Google's BiT list, the file
  DataComp downloads as ``imagenet21k_wordnet_ids``; timm ships the same 21,843 ids as
  ``timm/data/_info/imagenet21k_goog_synsets.txt``).

Output (gzip, UTF-8, tab-separated, ``#`` lines are comments), see docs/methods/datacomp_baselines.md:

- ``L <pos> <lemma> <hit>`` for every lemma of the index of part of speech ``pos`` (n, v, a, r), ``hit``
  = 1 when the offset of its first sense (the first synset nltk's ``wordnet.synsets`` lists for it in
  that part of speech) is the offset of an ImageNet-21k id, else 0;
- ``X <pos> <inflected> <base> [<base> ...]`` for every line of that part of speech's exception list.

Run: ``python scripts/build_in21k_lemmas.py --wordnet DIR --in21k FILE [-o OUT]``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from pathlib import Path

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "pairsift" / "assets" / "in21k_lemmas.tsv.gz"


def read_in21k(path: Path) -> set[int]:
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not all(i.startswith("n") and i[1:].isdigit() for i in ids):
        raise SystemExit(f"{path}: expected one WordNet noun id (nNNNNNNNN) a line")
    return {int(i[1:]) for i in ids}


def index_rows(path: Path) -> list[tuple[str, list[int]]]:
    """(lemma, synset offsets in sense order) for each entry of a WordNet ``index.<pos>`` file."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith(" "):  # the licence header lines start with a space
            continue
        fields = line.split()
        lemma, synsets, pointers = fields[0], int(fields[2]), int(fields[3])
        offsets = [int(f) for f in fields[4 + pointers + 2 : 4 + pointers + 2 + synsets]]
        assert len(offsets) == synsets, line
        rows.append((lemma, offsets))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet", type=Path, required=True, help="WordNet 3.0 database directory")
    parser.add_argument("--in21k", type=Path, required=True, help="ImageNet-21k ids, one nNNNNNNNN a line")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    in21k = read_in21k(args.in21k)
    lines = [
        "# pairsift in21k_lemmas v1: the text_entity scorer's table (scripts/build_in21k_lemmas.py)",
        f"# ImageNet-21k ids: {args.in21k.name}, {len(in21k)} ids, "
        f"sha256 {hashlib.sha256(args.in21k.read_bytes()).hexdigest()}",
        "# WordNet 3.0 index and exception files; rows: L pos lemma hit | X pos inflected base...",
    ]
    hits = 0
    for pos, name in POS_FILES.items():
        for lemma, offsets in index_rows(args.wordnet / f"index.{name}"):
            hit = int(offsets[0] in in21k)
            hits += hit
            lines.append(f"L\t{pos}\t{lemma}\t{hit}")
        for line in (args.wordnet / f"{name}.exc").read_text(encoding="utf-8").splitlines():
            if line.strip():
                inflected, *bases = line.split()
                lines.append("\t".join(["X", pos, inflected, *bases]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    args.output.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{args.output}: {len(lines) - 3} rows, {hits} lemmas whose first sense is an ImageNet-21k class")


if __name__ == "__main__":
    main()
