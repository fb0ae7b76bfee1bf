"""The ``column`` scorer on a DataComp-layout pool: DataComp's own clip_score baseline, bit for bit.

The pool's metadata score columns are computed from float32 features and stored in float64, as DataComp's
are; the npz holds the same features in float16. A cut on the column with ``--datacomp-threshold`` must
keep exactly the rows DataComp's rule keeps (threshold = value at descending position ``floor(N·f)``,
keep ``>=``), which a score recomputed from the float16 features does not always do.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.cli import main
from pairsift.io.subsets import read_subset
from pairsift.uids import from_hex
from tests import pools

SHARDS, ROWS, DIMS = 4, 250, {"l14": 48, "b32": 32}


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory):
    """A DataComp-layout pool with both families; ``(directory, uids, {column: float64 values})``."""
    root = tmp_path_factory.mktemp("datacomp-pool")
    rng = np.random.default_rng(5)
    uids = pools.hex_uids(SHARDS * ROWS, seed=5)
    scores: dict[str, list[np.ndarray]] = {f"clip_{f}_similarity_score": [] for f in DIMS}
    for s in range(SHARDS):
        rows = slice(s * ROWS, (s + 1) * ROWS)
        arrays, meta = {}, {"uid": uids[rows], "text": [f"caption {i}" for i in range(ROWS)]}
        for family, dim in DIMS.items():
            img = pools.unit_rows(ROWS, dim, seed=10 * s + dim)
            txt = (img + rng.standard_normal((ROWS, dim)).astype(np.float32) * 0.9).astype(np.float32)
            txt /= np.linalg.norm(txt, axis=1, keepdims=True)
            score = np.einsum("ij,ij->i", img, txt).astype(np.float64)  # from float32 features
            score[:3] = score[3]  # exact ties
            # values apart by less than float32 can tell, everywhere: a cut in float32 would merge them
            score[1::2] = np.nextafter(score[0::2], np.inf)[: len(score[1::2])] + 2.0**-40
            meta[f"clip_{family}_similarity_score"] = score
            scores[f"clip_{family}_similarity_score"].append(score)
            arrays[f"{family}_img"], arrays[f"{family}_txt"] = img.astype(np.float16), txt.astype(np.float16)
        (root / f"{s:08d}.npz").write_bytes(pools.npz_bytes(**arrays))
        pq.write_table(pa.table(meta), root / f"{s:08d}.parquet")
    return root, uids, {k: np.concatenate(v) for k, v in scores.items()}


def datacomp_rule(values: np.ndarray, fraction: float) -> np.ndarray:
    """DataComp's clip_score baseline, slowly: the threshold at descending position int(N·f), keep >= it."""
    threshold = -np.sort(-values)[int(len(values) * fraction)]
    return values >= threshold


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("family", ["l14", "b32"])
@pytest.mark.parametrize("fraction", [0.3, 0.1, 0.55])
def test_the_datacomp_threshold_on_the_column_equals_datacomps_rule(
    pool, tmp_path, family, fraction, streaming
):
    root, uids, scores = pool
    column = f"clip_{family}_similarity_score"
    run, subset = tmp_path / "run", str(tmp_path / "s.npy")
    assert (
        main(
            [
                "-q",
                "score",
                str(root),
                "-o",
                str(run),
                "--embeddings",
                family,
                "--scorer",
                f"column:column={column}",
            ]
        )
        == 0
    )
    table = pq.read_table(run / "scores" / "00000000.parquet")
    assert table.schema.field(column).type == pa.float64()
    assert np.array_equal(table.column(column).to_numpy(), scores[column][:ROWS])  # copied bit for bit
    argv = ["-q", "select", str(run), "-o", subset, "--datacomp-threshold", "--top", f"{column}={fraction}"]
    assert main([*argv, *(["--memory-budget", "1"] if streaming else [])]) == 0
    keep = datacomp_rule(scores[column], fraction)
    expected = np.sort(from_hex([u for u, k in zip(uids, keep, strict=True) if k]))
    assert np.array_equal(read_subset(subset), expected)


def test_the_datacomp_recipe_needs_no_npz(pool, tmp_path):
    root, uids, scores = pool
    metadata = tmp_path / "metadata"
    metadata.mkdir()
    for parquet in root.glob("*.parquet"):
        (metadata / parquet.name).write_bytes(parquet.read_bytes())
    run = tmp_path / "run"
    assert (
        main(
            [
                "-q",
                "run",
                "datacomp-clipscore-30",
                "--pool",
                str(metadata),
                "-o",
                str(run),
                "--var",
                "family=b32",
            ]
        )
        == 0
    )
    keep = datacomp_rule(scores["clip_b32_similarity_score"], 0.3)
    assert np.array_equal(read_subset(run / "subset.npy"), np.sort(from_hex(np.asarray(uids)[keep].tolist())))


def test_a_column_that_is_not_numeric_names_the_file_and_column(pool, tmp_path, caplog):
    root, _, _ = pool
    assert (
        main(["-q", "score", str(root), "-o", str(tmp_path / "run"), "--scorer", "column:column=text"]) == 1
    )
    assert "column 'text' is string; a score column must be numeric" in caplog.text
    assert main(["-q", "score", str(root), "-o", str(tmp_path / "r2"), "--scorer", "column:column=nope"]) == 1
    assert "missing column(s) ['nope']" in caplog.text


def test_s_clip_loss_is_neg_clip_loss(tmp_path):
    from pairsift.scorers import SCORERS, build_scorer

    assert SCORERS.get("s_clip_loss") is SCORERS.get("neg_clip_loss")
    assert build_scorer("s_clip_loss", {"k": 2}).column == "neg_clip_loss"
    assert "s_clip_loss" not in SCORERS.names() and SCORERS.aliases() == {"s_clip_loss": "neg_clip_loss"}


def test_float64_keys_sort_like_their_values_and_round_trip():
    from pairsift.select.exact_top_k import sortable, unsortable

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.standard_normal(500), [0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300]])
    values = np.concatenate([values, np.nextafter(values, np.inf)])
    keys = sortable(values)
    assert keys.dtype == np.uint64
    order = np.argsort(values, kind="stable")
    assert (np.diff(keys[order].astype(object)) >= 0).all()
    assert all(unsortable(int(k), 64) == v for k, v in zip(keys, values, strict=True))
