"""Selection as engine passes: the same subset bytes and funnel as the single-process path, on one
process, on two local worker processes and on Ray; with fused columns, the same record too (their
statistics fitted from the tables' partials, merged in shard order)."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.engines import EngineConfig, Resources, make_engine
from pairsift.errors import InputError
from pairsift.io.subsets import write_subset
from pairsift.select import selection
from pairsift.select.fusion import NORMALIZERS
from pairsift.select.selection import SelectConfig, SelectionResult, _in_process, select
from pairsift.select.step import Step
from pairsift.select.tables import ScoreTables
from tests.ray_local import local_ray
from tests.select.helpers import make_run, subset_file

ENGINES = {
    "local-1": EngineConfig(),
    "local-2": EngineConfig(workers=2),
    "ray": EngineConfig(kind="ray", resources={"select": Resources(actors=2)}),
}


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory):
    rng = np.random.default_rng(11)
    sizes = [400, 0, 313, 520, 97]
    a = [np.round(rng.standard_normal(n), 1).astype(np.float32) for n in sizes]  # many ties
    b = [rng.random(n).astype(np.float32) for n in sizes]
    for arr in a:
        arr[rng.random(len(arr)) < 0.05] = np.nan
    root = tmp_path_factory.mktemp("mapped")
    run, uids = make_run(root / "run", {"a": a, "b": b}, higher_is_better={"b": False})
    every = np.concatenate(uids)
    inside = subset_file(root / "inside.npy", list(every[::3]))
    outside = subset_file(root / "outside.npy", list(every[1::7]))
    return run, inside, outside


def rule_sets(inside, outside):
    return {
        "tops": (("top", "a=0.37"), ("top-n", "b=55")),
        "mixed": (
            ("restrict", str(inside)),
            ("threshold", "b<=0.8"),
            ("exclude", str(outside)),
            ("top", "a=0.5"),
        ),
        "datacomp": (("top", "a=0.5"), ("top", "b=0.2")),
    }


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    with local_ray():
        yield


def single_process(run, config: SelectConfig, tmp_path) -> tuple[bytes, list[Step]]:
    """Today's path (every pass in this process, the pool's masks in memory): its subset's bytes."""
    tables = ScoreTables(run)
    result = SelectionResult(config.output, pool=tables.total, kept=tables.total)
    result.steps.append(Step("pool", tables.total, tables.total))
    subset, _ = _in_process(tables, config, config.parsed_rules(), result)
    write_subset(tmp_path / "reference.npy", subset)
    return (tmp_path / "reference.npy").read_bytes(), result.steps


# every rule kind on one process; the rule set with every filter kind on each engine (a pass starts
# its worker processes or actors: seconds each on a loaded machine)
CASES = [("local-1", "tops"), ("local-1", "datacomp"), *((engine, "mixed") for engine in ENGINES)]


@pytest.mark.parametrize(("engine", "rules"), CASES)
def test_the_subset_has_the_same_bytes_on_every_engine(engine, rules, pool, tmp_path, request) -> None:
    if engine == "ray":
        request.getfixturevalue("ray_cluster")
    run, inside, outside = pool
    chosen = rule_sets(inside, outside)[rules]
    config = SelectConfig(
        rules=chosen,
        output=str(tmp_path / "subset.npy"),
        datacomp_threshold=rules == "datacomp",
    )
    expected, steps = single_process(run, config, tmp_path)
    result = select(run, config, make_engine(ENGINES[engine], "select"))
    assert (tmp_path / "subset.npy").read_bytes() == expected
    assert [s.to_dict() for s in result.steps] == [s.to_dict() for s in steps]
    assert 0 < result.kept < result.pool


#: two fused columns sharing an input (``a`` has NaN rows and many ties); ``b`` ranks lower-is-better
FUSE = ("f=a:0.7,b:0.3", "g=b:1")


def fused_rules(inside, outside):
    """A restrict and thresholds (one on a fused column) before the fused cuts."""
    return (
        ("restrict", str(inside)),
        ("threshold", "b<=0.8"),
        ("threshold", "f>0.1"),
        ("exclude", str(outside)),
        ("top", "f=0.4"),
        ("top-n", "g=25"),
    )


def in_process_files(run, config: SelectConfig, monkeypatch) -> tuple[bytes, bytes]:
    """What :func:`select` wrote before fused selections ran on the engine (it sent them to the
    single-process path): the subset's and the record's bytes."""
    with monkeypatch.context() as patch:
        patch.setattr(
            selection,
            "_on_engine",
            lambda tables, config, rules, fusions, result, mapper: _in_process(tables, config, rules, result),
        )
        select(run, config)
    output = Path(config.output)
    record = output.with_name(output.name + ".json")
    files = output.read_bytes(), record.read_bytes()
    output.unlink()
    record.unlink()
    return files


FUSED_CASES = [
    *(("local-1", method, False) for method in NORMALIZERS.names()),
    *(("local-2", method, False) for method in NORMALIZERS.names()),
    ("local-1", "minmax", True),
    ("ray", "rank", False),
]


@pytest.mark.parametrize(("engine", "method", "datacomp"), FUSED_CASES)
def test_fused_selections_write_the_same_subset_and_record_on_the_engine(
    engine, method, datacomp, pool, tmp_path, request, monkeypatch
) -> None:
    if engine == "ray":
        request.getfixturevalue("ray_cluster")
    run, inside, outside = pool
    config = SelectConfig(
        rules=(("top", "f=0.5"),) if datacomp else fused_rules(inside, outside),
        output=str(tmp_path / "subset.npy"),
        fuse=FUSE,
        normalize=method,
        datacomp_threshold=datacomp,
    )
    subset, record = in_process_files(run, config, monkeypatch)
    result = select(run, config, make_engine(ENGINES[engine], "select"))
    assert (tmp_path / "subset.npy").read_bytes() == subset
    assert (tmp_path / "subset.npy.json").read_bytes() == record
    assert 0 < result.kept < result.pool
    assert [f["name"] for f in result.fusions] == ["f", "g"]
    assert all(result.fusions[0]["statistics"][c] for c in ("a", "b"))


def test_fusion_statistics_merged_from_partials_are_the_pools() -> None:
    """``merge`` of per-shard partials (in shard order) gives the pool's statistics, bit for bit as one
    process accumulating shard by shard, including shards that are empty or all NaN."""
    rng = np.random.default_rng(2)
    sizes_scales = ((500, 1.0), (0, 1.0), (300, 1e4), (7, 3.0))
    shards = [rng.standard_normal(n).astype(np.float32) * np.float32(s) for n, s in sizes_scales]
    shards[0][::9] = np.nan
    shards.append(np.full(5, np.nan, np.float32))
    pooled = np.concatenate(shards)
    finite = pooled[np.isfinite(pooled)]

    def merged(method):
        kind = NORMALIZERS.get(method)
        return kind().merge([kind.partial(v) for v in shards])

    assert merged("minmax").describe() == {"min": float(finite.min()), "max": float(finite.max())}
    count, total, squares = 0, 0.0, 0.0  # float64 sums accumulated shard by shard
    for v in shards:
        v = v.astype(np.float64)[np.isfinite(v)]
        count, total, squares = count + len(v), total + float(v.sum()), squares + float((v * v).sum())
    mean = total / count
    expected = {"mean": mean, "std": math.sqrt(squares / count - mean * mean)}
    assert merged("zscore").describe() == expected
    assert expected["mean"] == pytest.approx(float(finite.astype(np.float64).mean()), rel=1e-9, abs=1e-9)
    rank = merged("rank")
    assert rank.sorted_.tobytes() == np.sort(finite).tobytes()
    got = rank.apply(pooled)
    want = np.searchsorted(np.sort(finite), pooled, "left") / (len(finite) - 1)
    assert np.array_equal(got, np.where(np.isfinite(pooled), want, np.nan), equal_nan=True)


def test_a_shard_whose_task_fails_is_an_error_naming_its_table(pool, tmp_path) -> None:
    """The table's row count reads (in the driver), its column does not (in a worker process)."""
    run, _, _ = pool
    broken = tmp_path / "run"
    shutil.copytree(run, broken)
    table = broken / "scores" / "00002.parquet"
    data = pq.read_table(table)
    index = data.schema.get_field_index("a")
    pq.write_table(data.set_column(index, "a", pa.array(["x"] * data.num_rows)), table)
    config = SelectConfig(rules=(("top", "a=0.5"),), output=str(tmp_path / "s.npy"))
    with pytest.raises(InputError, match=r"shard 00002 failed: InputError: .*00002\.parquet: column 'a'"):
        select(broken, config, make_engine(ENGINES["local-2"], "select"))


def test_pairsift_select_takes_the_engine_options(pool, tmp_path) -> None:
    from pairsift.cli import main

    run, inside, _ = pool
    rules = ["--restrict", str(inside), "--top", "a=0.4"]
    for name, extra in (("one", []), ("two", ["--engine", "local", "--workers", "2"])):
        assert main(["-q", "select", str(run), "-o", str(tmp_path / f"{name}.npy"), *rules, *extra]) == 0
    assert (tmp_path / "two.npy").read_bytes() == (tmp_path / "one.npy").read_bytes()
