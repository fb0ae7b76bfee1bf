"""The report's passes on an engine: the same page, byte for byte, on this process, on one or two local
worker processes and on Ray; the driver's merges are those of one process reading table after table."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.engines import EngineConfig, Resources, make_engine
from pairsift.errors import InputError
from pairsift.report import ReportConfig, build_report
from pairsift.report.gather import in_order
from pairsift.report.sampling import KBest
from pairsift.select.selection import SelectConfig, select
from tests.ray_local import local_ray
from tests.select.helpers import make_run

ENGINES = {
    "local-1": EngineConfig(),
    "local-2": EngineConfig(workers=2),
    "ray": EngineConfig(kind="ray", resources={"report": Resources(actors=2)}),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    """Six tables (one empty) with ties, NaNs and infinities, and two subsets selected from them."""
    rng = np.random.default_rng(3)
    sizes = [150, 0, 233, 97, 310, 41]
    a = [np.round(rng.standard_normal(n), 1).astype(np.float32) for n in sizes]
    b = [rng.random(n).astype(np.float32) for n in sizes]
    for values in a:
        values[rng.random(len(values)) < 0.05] = np.nan
    b[3][:4] = np.inf
    root = tmp_path_factory.mktemp("report-engines")
    path, _ = make_run(root / "run", {"a": a, "b": b}, higher_is_better={"b": False})
    subsets = {"top-a": (("top", "a=0.4"),), "b-then-a": (("top", "b=0.5"), ("top", "a=0.3"))}
    for name, rules in subsets.items():
        select(path, SelectConfig(rules=rules, output=str(path / "subsets" / f"{name}.npy")))
    return path


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    with local_ray():
        yield


def report_bytes(run, tmp_path, name: str, engine: str | None = None, **options) -> bytes:
    out = tmp_path / f"{name}.html"
    config = ReportConfig(str(run), str(out), images="", labels="", **options)
    build_report(config, None if engine is None else make_engine(ENGINES[engine], "report"))
    return out.read_bytes()


@pytest.mark.parametrize("engine", list(ENGINES))
def test_the_report_has_the_same_bytes_on_every_engine(engine, run, tmp_path, request) -> None:
    if engine == "ray":
        request.getfixturevalue("ray_cluster")
    options = {"sample": 100, "cards": 5, "bins": 23}  # samples smaller than the pool: merges trim
    expected = report_bytes(run, tmp_path, "this-process", **options)
    assert report_bytes(run, tmp_path, engine, engine, **options) == expected


def test_labels_thumbnails_and_statuses_have_the_same_bytes_on_two_workers(tiny_run, tmp_path) -> None:
    pages = {}
    for name, engine in (("this-process", None), ("two", make_engine(ENGINES["local-2"], "report"))):
        out = tmp_path / f"{name}.html"
        summary = build_report(ReportConfig(str(tiny_run.run), str(out), sample=50), engine)
        assert summary.labels and summary.thumbnails > 0
        pages[name] = out.read_bytes()
    assert pages["two"] == pages["this-process"]


def test_a_table_that_fails_in_a_worker_is_an_error_naming_it(run, tmp_path) -> None:
    broken = tmp_path / "run"
    shutil.copytree(run, broken)
    table = broken / "scores" / "00003.parquet"
    data = pq.read_table(table)
    pq.write_table(data.drop_columns(["b"]).append_column("c", pa.array([1.0] * data.num_rows)), table)
    with pytest.raises(InputError, match=r"shard 00003 failed: InputError: .*00003\.parquet: missing column"):
        report_bytes(broken, tmp_path, "broken", "local-2")


def test_merged_samples_are_the_ones_added_shard_after_shard() -> None:
    rng = np.random.default_rng(0)
    shards = [np.round(rng.standard_normal(n), 1) for n in (40, 0, 75, 13, 60)]  # many ties
    shards[2][:5] = np.inf
    shards[3][:] = np.nan
    added = KBest(17)
    parts = []
    for index, keys in enumerate(shards):
        added.add(index, keys, {"row": np.arange(len(keys))})
        part = KBest(17)
        part.add(index, keys, {"row": np.arange(len(keys))})
        parts.append(part)
    merged = KBest(17)
    for part in reversed(parts):  # in any order
        merged.merge(part)
    for name in ("keys", "shards", "rows"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(added, name))
    np.testing.assert_array_equal(merged.payload["row"], added.payload["row"])


def test_in_order_yields_by_position_holding_only_what_came_early() -> None:
    came = [(2, "c"), (0, "a"), (1, "b"), (4, "e"), (3, "d")]
    assert list(in_order(iter(came))) == ["a", "b", "c", "d", "e"]
    with pytest.raises(ValueError, match="not position 1"):
        list(in_order(iter([(0, "a"), (2, "c")])))


def test_pairsift_report_takes_the_engine_options(run, tmp_path) -> None:
    from pairsift.cli import main

    for name, extra in (("one", []), ("two", ["--engine", "local", "--workers", "2"])):
        out = str(tmp_path / f"{name}.html")
        assert main(["-q", "report", str(run), "-o", out, "--images", "", "--labels", "", *extra]) == 0
    assert (tmp_path / "two.html").read_bytes() == (tmp_path / "one.html").read_bytes()
