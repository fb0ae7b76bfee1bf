"""``pairsift bench --quick``: the whole loop on a tiny world (plumbing, not the ordering), and the grid."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from pairsift.cli.main import main
from pairsift.recipe import builtin_names
from pairsift.world.bench import NO_FILTER, QUICK_METHODS, World, grid, select_all
from pairsift.world.bench_table import BenchResult


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``pairsift bench --quick`` once for this module: its output folder and what it printed."""
    out = tmp_path_factory.mktemp("bench") / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["-q", "bench", "--quick", "-o", str(out), "--device", "cpu"]) == 0
    return out, printed.getvalue()


def test_quick_bench_writes_the_table_bench_json_and_the_report(quick: tuple[Path, str]) -> None:
    out, printed = quick
    results = json.loads((out / "bench.json").read_text())["results"]
    assert [r["method"] for r in results] == list(QUICK_METHODS)
    for r in results:
        assert set(r) == {"method", "subset_size", "seed", "tasks", "average"}
        assert set(r["tasks"]) == {"shape", "colour", "count", "retrieval"}
        assert all(0 <= v <= 1 for v in r["tasks"].values())
        assert r["average"] == pytest.approx(sum(r["tasks"].values()) / 4)
    sizes = {r["method"]: r["subset_size"] for r in results}
    assert sizes[NO_FILTER] == 600 and sizes["clipscore-30"] == 180 == sizes["negcliploss-30"]
    for method in QUICK_METHODS:
        assert method in printed
    assert "mean ± std over 1 seed(s)" in printed
    subsets = json.loads((out / "subsets.json").read_text())["subsets"]
    assert subsets[NO_FILTER]["kept"]["mismatched"] == 1.0
    assert subsets["clipscore-30"]["kept"]["mismatched"] < 0.5  # the teacher sees mismatched pairs
    page = (out / "report.html").read_text()
    assert "<svg" in page and "negcliploss-30" in page
    config = json.loads((out / "subsets.json").read_text())["config"]
    assert config["jobs"] == 2 and config["threads"] == 1  # two students at a time, one thread each


def test_a_recipe_whose_subset_is_empty_is_skipped_with_its_reason(quick: tuple[Path, str]) -> None:
    bench = BenchResult()
    data = select_all(["basic", "clipscore-30"], World(quick[0]), bench)
    assert list(data) == ["clipscore-30"]  # basic's image_size>=200 drops every 64-pixel world image
    assert "is empty: nothing to train on" in bench.skipped["basic"]
    assert bench.subsets["clipscore-30"]["size"] == 180


def test_the_grid_is_the_builtin_recipes_and_skips_what_the_world_lacks(tmp_path: Path) -> None:
    methods, skipped = grid((), World(tmp_path).variables())
    papers = [NO_FILTER, "clipscore-30", "negcliploss-30", "negcliploss-normsim-inf", "sieve-clipscore"]
    assert methods[:5] == papers  # the papers' comparison first: a partial run holds it
    assert set(methods[1:]) | set(skipped) == set(builtin_names())
    assert "negcliploss-normsim-inf" in methods and "sieve-clipscore" in methods
    assert "dfn" in skipped["dfn-negcliploss-normsim"]  # the world has no DFN subset
