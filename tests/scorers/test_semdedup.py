"""SemDeDup against a float64 reference (fixed centroids), planted duplicate groups, run-level checks."""

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from pairsift.data import EmbeddingBatch
from pairsift.device import Compute
from pairsift.models.kmeans import assign
from pairsift.scorers import build_scorer
from pairsift.scorers.pool_clusters import ClusteredPool
from pairsift.scorers.semdedup import SemDeDup, chain_roots
from pairsift.stages.score import score
from pairsift.uids import format_uids
from tests.pools import write_shard
from tests.scorers.helpers import MemoryPool, random_uids

CPU = Compute.resolve("cpu")


def planted(rng: np.random.Generator, bases: int = 40, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows: ``bases`` random ones, and 0-3 tight copies (cosine ~0.999) of each; group ids."""
    base = rng.standard_normal((bases, dim))
    rows, group = [], []
    for g, b in enumerate(base):
        for _ in range(1 + int(rng.integers(0, 4))):
            rows.append(b + 0.02 * rng.standard_normal(dim) * (len(group) > 0 and group[-1] == g))
            group.append(g)
    x = np.array(rows)
    order = rng.permutation(len(x))
    return (x / np.linalg.norm(x, axis=1, keepdims=True))[order], np.array(group)[order]


def reference(x: np.ndarray, keys: np.ndarray, centroids: np.ndarray, eps: float) -> tuple:
    """SemDeDup in float64, one row at a time: (M, kept, index of the kept member of the group)."""
    sim = x @ centroids.T
    labels = sim.argmax(axis=1)
    m = np.full(len(x), -1.0)
    nearest = np.full(len(x), -1)
    for c in range(len(centroids)):
        members = [int(i) for i in np.flatnonzero(labels == c)]
        members.sort(key=lambda i: (sim[i, c], int(keys[i, 0]), int(keys[i, 1])))
        for pos, j in enumerate(members):
            for i in members[:pos]:
                if float(x[i] @ x[j]) > m[j]:
                    m[j], nearest[j] = float(x[i] @ x[j]), i
    kept = m <= 1 - eps
    root = np.arange(len(x))
    for j in np.argsort(m):  # any order works: follow the chain to a kept row
        r = j
        while not kept[r]:
            r = nearest[r]
        root[j] = r
    return labels, m, kept, root


def test_columns_equal_a_float64_reference_with_fixed_centroids():
    rng = np.random.default_rng(0)
    x, _ = planted(rng)
    keys = rng.integers(0, 2**63, size=(len(x), 2), dtype=np.int64).astype(np.uint64)
    centroids = x[rng.choice(len(x), 4, replace=False)].astype(np.float32)
    valid = np.ones(len(x) + 1, dtype=bool)
    valid[5] = False  # one invalid row in the shard
    pool = ClusteredPool(["s"], {"s": valid}, keys, x.astype(np.float32), centroids)
    pool.labels, pool.centroid_sim = assign(pool.cache, torch.from_numpy(centroids))
    labels, m, kept, root = reference(x, keys, centroids.astype(np.float64), eps=0.05)
    np.testing.assert_array_equal(pool.labels, labels)
    out = SemDeDup(eps=0.05).columns(pool, CPU)
    rows = np.flatnonzero(valid)
    np.testing.assert_allclose(out["semdedup"]["s"][rows], m, atol=1e-5)
    assert np.isnan(out["semdedup"]["s"][5]) and np.isnan(out["semdedup_kept"]["s"][5])
    np.testing.assert_array_equal(out["semdedup_kept"]["s"][rows], kept.astype(np.float32))
    uids = format_uids(keys)
    expected = np.where(kept, "", uids[root])
    assert list(out["semdedup_duplicate_of"]["s"][rows]) == list(expected)
    assert out["semdedup_duplicate_of"]["s"][5] == ""
    assert 0 < kept.sum() < len(x)  # the data has both kinds


def test_planted_groups_keep_exactly_one_member_each():
    rng = np.random.default_rng(1)
    x, group = planted(rng, bases=60)
    uids = random_uids(rng, len(x))
    half = len(x) // 2
    batches = [
        EmbeddingBatch.build(f"s{i}", uids[s], image=x[s].astype(np.float32))
        for i, s in enumerate((slice(0, half), slice(half, None)))
    ]
    out = SemDeDup(clusters=3).score_pool_columns(MemoryPool(batches), CPU, seed=0)
    kept = np.concatenate([out["semdedup_kept"][b.shard] for b in batches])
    dup_of = np.concatenate([out["semdedup_duplicate_of"][b.shard] for b in batches])
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        assert kept[members].sum() == 1
        (keeper,) = members[kept[members] == 1]
        assert all(dup_of[i] == uids[keeper] for i in members if i != keeper)


def test_chain_roots_follows_removed_rows_to_a_kept_one():
    nearest = np.array([-1, 0, 1, -1, 3])
    kept = np.array([True, False, False, True, True])
    np.testing.assert_array_equal(chain_roots(nearest, kept), [0, 0, 0, 3, 4])


@pytest.mark.parametrize("eps", [0, 1, -0.1, 1.5, "x", True])
def test_eps_out_of_range_is_a_clear_error(eps):
    with pytest.raises(ValueError, match=r"scorer 'semdedup': eps must be"):
        build_scorer("semdedup", {"eps": eps})


def test_bad_clusters_is_a_clear_error():
    with pytest.raises(ValueError, match="clusters must be >= 1"):
        build_scorer("semdedup", {"clusters": 0})


def test_same_bytes_with_one_or_two_workers(tmp_path: Path, score_config):
    rng = np.random.default_rng(3)
    x, _ = planted(rng, bases=150, dim=32)
    half = len(x) // 2
    for i, rows in enumerate((x[:half], x[half:])):
        arrays = {"l14_img": rows.astype(np.float32), "l14_txt": rows.astype(np.float32)}
        write_shard(tmp_path / "pool", f"{i:08d}", list(random_uids(rng, len(rows))), arrays)
    np.save(tmp_path / "t.npy", x[:20].astype(np.float32))
    specs = (
        "semdedup:clusters=4",
        f"image_based:clusters=4,target={tmp_path / 't.npy'}",
        f"decontaminate:target={tmp_path / 't.npy'}",
    )
    tables = []
    for workers in (1, 2):
        run = tmp_path / f"run{workers}"
        assert score(score_config(tmp_path / "pool", run, *specs, workers=workers)).ok
        tables.append([(run / "scores" / f"{i:08d}.parquet").read_bytes() for i in range(2)])
    assert tables[0] == tables[1]
    table = pq.read_table(tmp_path / "run1" / "scores" / "00000000.parquet")
    assert {
        "semdedup",
        "semdedup_kept",
        "semdedup_duplicate_of",
        "image_based",
        "decontaminate_flagged",
    } <= set(table.column_names)
