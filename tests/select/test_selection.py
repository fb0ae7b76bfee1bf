import json

import numpy as np
import pytest

from pairsift.errors import InputError
from pairsift.io.subsets import read_subset
from pairsift.select.selection import SelectConfig, select
from pairsift.uids import from_hex, is_sorted, to_hex
from tests.select import reference
from tests.select.helpers import make_run, subset_file


def run_select(run, tmp_path, *rules, budget=None, **options):
    config = SelectConfig(
        rules=tuple(rules),
        output=str(tmp_path / "out.npy"),
        memory_budget=budget if budget is not None else 1 << 30,
        **options,
    )
    result = select(run, config)
    assert is_sorted(np.load(config.output))  # written sorted, as DataComp's tools expect
    return result, set(to_hex(read_subset(config.output)))


def pooled(columns, uids, name):
    return np.concatenate(columns[name]), np.concatenate(uids)


@pytest.fixture
def pool(tmp_path):
    rng = np.random.default_rng(3)
    sizes = [300, 0, 250, 451]
    # rounded values make many ties; some NaN rows as invalid samples
    a = [np.round(rng.standard_normal(n), 1).astype(np.float32) for n in sizes]
    b = [rng.random(n).astype(np.float32) for n in sizes]
    for arr in a:
        arr[rng.random(len(arr)) < 0.05] = np.nan
    columns = {"a": a, "b": b}
    run, uids = make_run(tmp_path / "run", columns)
    return run, columns, uids


@pytest.mark.parametrize("budget", [1 << 30, 64])  # in memory, then forced streaming
def test_sequential_fractions_count_against_the_pool(pool, tmp_path, budget):
    run, columns, uids = pool
    result, got = run_select(run, tmp_path, ("top", "a=0.3"), ("top", "b=0.2"), budget=budget)
    a, u = pooled(columns, uids, "a")
    b, _ = pooled(columns, uids, "b")
    n = len(a)
    first = reference.top(a, u, np.ones(n, bool), int(0.3 * n))
    second = reference.top(b, u, first, int(0.2 * n))
    assert got == set(u[second])
    assert [s.kept for s in result.steps] == [n, int(0.3 * n), int(0.2 * n)]
    assert result.streaming == (budget == 64)


def test_streaming_and_in_memory_paths_give_the_same_subset(pool, tmp_path):
    run, _, _ = pool
    rules = (("top", "a=0.37"), ("top-n", "b=55"))
    _, in_memory = run_select(run, tmp_path, *rules)
    _, streaming = run_select(run, tmp_path, *rules, budget=1)
    assert in_memory == streaming and len(in_memory) == 55


def test_ties_are_broken_by_uid(tmp_path):
    values = [np.array([1, 1, 1, 1, 0.5], dtype=np.float32)]
    run, uids = make_run(tmp_path / "run", {"s": values})
    _, got = run_select(run, tmp_path, ("top-n", "s=2"))
    assert got == set(sorted(uids[0][:4], key=lambda x: int(x, 16))[:2])


def test_restrict_counts_fractions_against_the_subset_intersect_does_not(pool, tmp_path):
    run, columns, uids = pool
    a, u = pooled(columns, uids, "a")
    inside = u[::3]
    dfn = subset_file(tmp_path / "dfn.npy", list(inside))
    member = np.isin(u, inside)
    restricted, got_r = run_select(run, tmp_path, ("restrict", str(dfn)), ("top", "a=0.5"))
    assert got_r == set(u[reference.top(a, u, member, int(0.5 * member.sum()))])
    assert restricted.steps[-1].base == member.sum()
    intersected, got_i = run_select(run, tmp_path, ("intersect", str(dfn)), ("top", "a=0.1"))
    assert got_i == set(u[reference.top(a, u, member, int(0.1 * len(u)))])
    assert intersected.steps[-1].base == len(u)


def test_union_and_exclude(pool, tmp_path):
    run, columns, uids = pool
    a, u = pooled(columns, uids, "a")
    extra = subset_file(tmp_path / "x.npy", [*u[:10], "f" * 32])  # one uid not in the pool
    top = set(u[reference.top(a, u, np.ones(len(u), bool), 20)])
    _, got = run_select(run, tmp_path, ("top-n", "a=20"), ("union", str(extra)))
    assert got == top | set(u[:10])
    _, got = run_select(run, tmp_path, ("top-n", "a=20"), ("exclude", str(extra)))
    assert got == top - set(u[:10])


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.9])
def test_datacomp_threshold_semantics_vs_exact_counts(pool, tmp_path, fraction):
    run, columns, uids = pool
    a, u = pooled(columns, uids, "a")
    _exact, got_exact = run_select(run, tmp_path, ("top", f"a={fraction}"))
    _dc, got_dc = run_select(run, tmp_path, ("top", f"a={fraction}"), datacomp_threshold=True)
    want = reference.datacomp(a, np.ones(len(a), bool), fraction, len(a))
    assert got_dc == set(u[want])
    assert len(got_exact) == min(int(fraction * len(a)), int(np.isfinite(a).sum()))
    assert got_exact <= got_dc  # DataComp keeps n+1 plus ties


def test_datacomp_threshold_on_a_nan_position_is_refused(pool, tmp_path):
    run, _, _ = pool  # 5 % of the rows are NaN: position int(0.999 n) falls among them
    with pytest.raises(InputError, match="threshold would be NaN"):
        run_select(run, tmp_path, ("top", "a=0.999"), datacomp_threshold=True)
    _, got_exact = run_select(run, tmp_path, ("top", "a=0.999"))  # the exact top keeps every finite row
    assert len(got_exact) == int(np.isfinite(np.concatenate(pool[1]["a"])).sum())


def test_thresholds_both_directions(pool, tmp_path):
    run, columns, uids = pool
    b, u = pooled(columns, uids, "b")
    _, high = run_select(run, tmp_path, ("threshold", "b=0.7"))
    _, low = run_select(run, tmp_path, ("threshold", "b<=0.25"))
    assert high == set(u[b >= np.float32(0.7)])
    assert low == set(u[b <= np.float32(0.25)])


@pytest.mark.parametrize("method", ["minmax", "zscore", "rank"])
def test_fusion_statistics_are_pool_wide(tmp_path, method):
    rng = np.random.default_rng(5)
    # shards on very different scales: per-shard statistics would pick other rows
    x = [rng.random(200).astype(np.float32) * s for s in (1, 10)]
    y = [rng.random(200).astype(np.float32) * s for s in (10, 1)]
    run, uids = make_run(tmp_path / "run", {"x": x, "y": y})
    result, got = run_select(run, tmp_path, ("top", "f=0.25"), fuse=("f=x:0.5,y:0.5",), normalize=method)
    xs, ys, u = (
        np.concatenate(x).astype(np.float64),
        np.concatenate(y).astype(np.float64),
        np.concatenate(uids),
    )
    norm = {
        "minmax": lambda v: (v - v.min()) / (v.max() - v.min()),
        "zscore": lambda v: (v - v.mean()) / v.std(),
        "rank": lambda v: np.searchsorted(np.sort(v), v, "left") / (len(v) - 1),
    }[method]
    fused = (0.5 * norm(xs) + 0.5 * norm(ys)).astype(np.float32)
    assert got == set(u[reference.top(fused, u, np.ones(len(u), bool), 100)])
    assert result.fusions[0]["statistics"]["x"]


def test_lower_is_better_columns_keep_the_lowest(tmp_path):
    values = [np.arange(10, dtype=np.float32)]
    run, uids = make_run(tmp_path / "run", {"loss": values}, higher_is_better={"loss": False})
    _, got = run_select(run, tmp_path, ("top-n", "loss=3"))
    assert got == set(uids[0][:3])


def test_unknown_column_lists_the_available_ones(pool, tmp_path):
    run, _, _ = pool
    with pytest.raises(InputError, match="unknown score column 'zzz'; available: a, b"):
        run_select(run, tmp_path, ("top", "zzz=0.3"))


@pytest.mark.parametrize("spec", ["a=0", "a=1.5", "a=-0.1", "a=x", "a"])
def test_fraction_outside_unit_interval_is_refused(pool, tmp_path, spec):
    run, _, _ = pool
    with pytest.raises(ValueError, match="--top"):
        run_select(run, tmp_path, ("top", spec))
    assert not (tmp_path / "out.npy").exists()


def test_subset_of_the_wrong_dtype_is_refused(pool, tmp_path):
    run, _, _ = pool
    bad = tmp_path / "bad.npy"
    np.save(bad, np.arange(5, dtype=np.int64))
    with pytest.raises(InputError, match="expected a 1-D array of dtype"):
        run_select(run, tmp_path, ("restrict", str(bad)))
    assert not (tmp_path / "out.npy").exists()


def test_unsorted_subset_file_is_resorted(pool, tmp_path):
    run, _columns, uids = pool
    u = np.concatenate(uids)
    unsorted = from_hex(list(u[:50]))[::-1]
    path = tmp_path / "unsorted.npy"
    np.save(path, unsorted)
    _, got = run_select(run, tmp_path, ("intersect", str(path)))
    assert got == set(u[:50])


def test_record_holds_the_funnel(pool, tmp_path):
    run, _, _ = pool
    run_select(run, tmp_path, ("top", "a=0.3"))
    record = json.loads((tmp_path / "out.npy.json").read_text())
    assert [s["rule"] for s in record["funnel"]] == ["pool", "top a=0.3"]
    assert record["funnel"][1]["threshold"] is not None


def test_kept_rows_with_malformed_uids_are_left_out_of_the_subset(tmp_path, caplog):
    uids = [["0" * 31 + "1", "not-a-uid", "f" * 32, "0" * 31 + "1"]]
    run, _ = make_run(tmp_path / "run", {"s": [np.arange(4, dtype=np.float32)]}, uids=uids)
    result, got = run_select(run, tmp_path, ("threshold", "s>=0"))
    assert result.kept == 2 and "malformed uid" in caplog.text
    subset = read_subset(tmp_path / "out.npy")
    assert list(to_hex(subset)) == ["0" * 31 + "1", "f" * 32]  # a uid kept twice is written once (issue 16)
    assert result.repeated_uids == 1
    assert got == {"0" * 31 + "1", "f" * 32}
