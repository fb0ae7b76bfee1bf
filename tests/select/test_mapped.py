"""Selection as engine passes: the same subset bytes and funnel as the single-process path, on one
process, on two local worker processes and on Ray."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.engines import EngineConfig, Resources, make_engine
from pairsift.errors import InputError
from pairsift.io.subsets import write_subset
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
