"""DataComp's baseline recipes end to end, on a metadata-only DataComp pool (parquet files, no npz):
each recipe's subset equals a slow reference of DataComp's rule (``baselines/apply_filter.py``) with the
language-ID backend py3langid (its shipped model) in place of fastText / gcld3."""

from __future__ import annotations

import gzip
import importlib.util
import struct

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from pairsift.cli import main
from pairsift.io.subsets import read_subset
from pairsift.models.langid import FASTTEXT_MAGIC
from pairsift.uids import from_hex
from tests import pools
from tests.scorers.test_caption_length import read_words

CAPTIONS = [
    "a photo of a dog on the grass",
    "two geese standing by the lake",
    "un chien sur l'herbe verte",
    "ein Hund auf dem grünen Rasen",
    "red car",  # two words
    "big  dog\nrunning",  # whitespace and a newline
    "dogs!",
    "",
    None,  # no caption
    "the children are playing with a cat",
    "a beautiful sunny day at the seaside",
    "perro corriendo en la playa con su dueño",
    "the quick brown fox jumps over the lazy dog",
    "ran happily",
    "close-up of the mice",
]
#: the test's lemma table: a word's first sense (n, v, a, r order) and whether it is an ImageNet-21k class
TABLE_ROWS = [
    ("L", "n", "dog", "1"),
    ("L", "n", "goose", "1"),
    ("L", "n", "cat", "1"),
    ("L", "n", "child", "1"),
    ("L", "n", "fox", "1"),
    ("L", "n", "mouse", "1"),
    ("L", "n", "photo", "0"),
    ("L", "n", "day", "0"),
    ("L", "v", "run", "0"),
    ("L", "v", "dog", "0"),
    ("L", "a", "red", "0"),
    ("X", "n", "geese", "goose"),
    ("X", "n", "mice", "mouse"),
    ("X", "n", "children", "child"),
]
#: every caption word whose first sense hits in TABLE_ROWS (the slow reference's dictionary, by hand)
HITS = {"dog", "dogs", "geese", "goose", "cat", "children", "child", "fox", "mice", "mouse"}
ROWS_PER_SHARD = 60
HAS_FASTTEXT = importlib.util.find_spec("fasttext") is not None


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """Two metadata-only shards; returns (directory, rows as dicts)."""
    root = tmp_path_factory.mktemp("baselines-pool")
    rng = np.random.default_rng(13)
    uids = pools.hex_uids(2 * ROWS_PER_SHARD, seed=13)
    sides = [None, 0, 150, 199, 200, 201, 600, 601, 1000, 1800]
    rows = []
    for i, uid in enumerate(uids):
        width = sides[int(rng.integers(len(sides)))]
        height = sides[int(rng.integers(len(sides)))] if i % 7 else (None if width is None else width * 3)
        score = float(rng.uniform(0.2, 0.36)) if i % 11 else 0.28  # exact 0.28 kept by >=
        rows.append(
            {
                "uid": uid,
                "text": CAPTIONS[i % len(CAPTIONS)],
                "original_width": width,
                "original_height": height,
                "clip_b32_similarity_score": score,
            }
        )
    for s in range(2):
        part = rows[s * ROWS_PER_SHARD : (s + 1) * ROWS_PER_SHARD]
        table = pa.table(
            {
                "uid": pa.array([r["uid"] for r in part], pa.string()),
                "text": pa.array([r["text"] for r in part], pa.string()),
                "original_width": pa.array([r["original_width"] for r in part], pa.int64()),
                "original_height": pa.array([r["original_height"] for r in part], pa.int64()),
                "clip_b32_similarity_score": pa.array(
                    [r["clip_b32_similarity_score"] for r in part], pa.float64()
                ),
            }
        )
        pq.write_table(table, root / f"{s:08d}.parquet")
    return root, rows


@pytest.fixture(scope="module")
def identifier():
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def is_english(text, identifier) -> bool:
    return text is not None and identifier.classify(text.replace("\n", " "))[0] == "en"


def basic_rule(row, identifier) -> bool:
    text, w, h = row["text"], row["original_width"], row["original_height"]
    if not is_english(text, identifier) or not (len(text.split()) > 2 and len(text) > 5):
        return False
    if w is None or h is None or min(w, h) == 0:
        return False
    return min(w, h) >= 200 and max(w, h) / min(w, h) <= 3.0


def text_rule(row, identifier) -> bool:
    text = row["text"]
    return is_english(text, identifier) and any(word.lower() in HITS for word in text.split())


def laion_rule(row, identifier) -> bool:
    return row["clip_b32_similarity_score"] >= 0.28 and is_english(row["text"], identifier)


def expected(rows, rule, identifier) -> np.ndarray:
    return np.sort(from_hex([r["uid"] for r in rows if rule(r, identifier)]))


def run(recipe, root, out, *extra) -> np.ndarray:
    assert main(["-q", "run", recipe, "--pool", str(root), "-o", str(out), *extra]) == 0
    return read_subset(out / "subset.npy")


@pytest.fixture(scope="module")
def lemma_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lemmas") / "lemmas.tsv.gz"
    path.write_bytes(gzip.compress("".join("\t".join(r) + "\n" for r in TABLE_ROWS).encode()))
    return path


@pytest.fixture(scope="module")
def subsets(pool, lemma_file, tmp_path_factory):
    root, _ = pool
    out = tmp_path_factory.mktemp("runs")
    return {
        "basic": run("basic", root, out / "basic"),
        "text-based": run("text-based", root, out / "text", "--var", f"lemmas={lemma_file}"),
        "laion2b": run("laion2b", root, out / "laion"),
    }, out


@pytest.mark.parametrize(
    "recipe,rule", [("basic", basic_rule), ("text-based", text_rule), ("laion2b", laion_rule)]
)
def test_each_baseline_equals_datacomps_rule_with_py3langid(pool, subsets, identifier, recipe, rule):
    _, rows = pool
    got = subsets[0][recipe]
    want = expected(rows, rule, identifier)
    assert len(want) > 3 and len(want) < len(rows)  # the pool exercises both sides of the rule
    assert np.array_equal(got, want)


def test_a_baseline_subset_composes_like_any_subset(subsets, tmp_path):
    done, runs = subsets
    basic = str(runs / "basic" / "subset.npy")
    laion = ["--threshold", "clip_b32_similarity_score>=0.28", "--threshold", "english>=1"]
    both = tmp_path / "both.npy"
    assert main(["-q", "select", str(runs / "laion"), "-o", str(both), *laion, "--intersect", basic]) == 0
    assert np.array_equal(read_subset(both), np.intersect1d(done["laion2b"], done["basic"]))
    text = ["--threshold", "english>=1", "--threshold", "text_entity>=1"]
    either = tmp_path / "either.npy"
    assert main(["-q", "select", str(runs / "text"), "-o", str(either), *text, "--union", basic]) == 0
    assert np.array_equal(read_subset(either), np.union1d(done["text-based"], done["basic"]))
    inside = tmp_path / "inside.npy"
    argv = ["-q", "select", str(runs / "laion"), "-o", str(inside), "--restrict", basic, *laion]
    assert main(argv) == 0
    assert np.array_equal(read_subset(inside), np.intersect1d(done["laion2b"], done["basic"]))


def test_run_json_records_the_language_id_backend(subsets):
    import json

    record = json.loads((subsets[1] / "basic" / "run.json").read_text())
    english = next(s for s in record["scorers"] if s["kind"] == "english")
    assert english["params"]["ran"]["backend"] == "py3langid"
    assert english["params"]["ran"]["model"].endswith("model.npz.xz")


def test_missing_size_columns_are_named(tmp_path, caplog):
    root = tmp_path / "pool"
    root.mkdir()
    pq.write_table(pools.metadata_table(pools.hex_uids(5)), root / "00000000.parquet")
    assert main(["-q", "run", "basic", "--pool", str(root), "-o", str(tmp_path / "run")]) != 0
    assert "missing column(s) ['original_height', 'original_width']" in caplog.text


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "fastText model {path}: no such file"),
        (b"<html>404</html>", "fastText model {path}: not a fastText model file"),
        (struct.pack("<ii", FASTTEXT_MAGIC, 12) + bytes(32), "pip install fasttext-wheel"),
    ],
)
def test_a_bad_fasttext_model_is_one_clear_error(pool, tmp_path, caplog, content, message):
    if content is not None and content[:4] == struct.pack("<i", FASTTEXT_MAGIC) and HAS_FASTTEXT:
        pytest.skip("the fasttext module is installed")
    path = tmp_path / "lid.176.bin"
    if content is not None:
        path.write_bytes(content)
    argv = ["-q", "run", "basic", "--pool", str(pool[0]), "-o", str(tmp_path / "run")]
    assert main([*argv, "--var", "backend=fasttext", "--var", f"model={path}"]) == 2
    assert message.format(path=path) in caplog.text
    assert not (tmp_path / "run" / "subset.npy").exists()


def image_rule(row, identifier) -> bool:
    """DataComp's ``caption_filter`` (fastText tokens > 1, characters > 5, English); every cluster is a
    target's cluster here, so the cluster rule keeps every row with an image embedding."""
    text = row["text"]
    return is_english(text, identifier) and len(read_words(text)) > 1 and len(text) > 5


def test_image_based_prefilters_captions_as_datacomp(pool, identifier, tmp_path):
    root, rows = pool
    images = []
    for shard in sorted(root.glob("*.parquet")):
        (tmp_path / "pool").mkdir(exist_ok=True)
        (tmp_path / "pool" / shard.name).write_bytes(shard.read_bytes())
        image = pools.unit_rows(ROWS_PER_SHARD, 8, seed=int(shard.stem))
        (tmp_path / "pool" / f"{shard.stem}.npz").write_bytes(
            pools.npz_bytes(**pools.family_arrays(image, image))
        )
        images.append(image)
    np.save(tmp_path / "target.npy", np.concatenate(images).astype(np.float32))  # every row a target
    got = run(
        "image-based", tmp_path / "pool", tmp_path / "run", "--var", f"target={tmp_path / 'target.npy'}"
    )
    want = expected(rows, image_rule, identifier)
    assert np.array_equal(got, want)
    with_split = expected(
        rows, lambda r, i: is_english(r["text"], i) and len(r["text"].split()) > 1, identifier
    )
    assert len(want) > 3 and len(want) < len(rows) and len(with_split) >= len(want)
