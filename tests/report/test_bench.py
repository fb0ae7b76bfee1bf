"""The bench in the HTML report: ``pairsift report`` of a bench folder (its own page) and of a run folder
that holds a ``bench.json`` (a section of the run's page)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pairsift.cli.main import main
from pairsift.errors import InputError
from pairsift.report.bench import format_table, read_bench
from tests.report.conftest import TinyRun


def _entry(method: str, size: int, seed: int, colour: float, shape: float) -> dict:
    return {
        "method": method,
        "subset_size": size,
        "seed": seed,
        "tasks": {"colour": colour, "shape": shape},
        "average": (colour + shape) / 2,
    }


RESULTS = [
    _entry("no_filter", 1000, 0, 0.30, 0.20),
    _entry("no_filter", 1000, 1, 0.40, 0.10),
    _entry("<b>clipscore-30</b>", 300, 0, 0.50, 0.30),
    _entry("<b>clipscore-30</b>", 300, 1, 0.50, 0.30),
]


def write_bench(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.json").write_text(json.dumps({"results": RESULTS}))
    kinds = {"size": 300, "kept": {"clean": 0.6, "mismatched": 0.05}, "composition": {}}
    record = {"subsets": {"no_filter": kinds}, "skipped": {"basic": "its subset is empty"}, "seconds": 12.0}
    (folder / "subsets.json").write_text(json.dumps(record))
    return folder


def test_the_table_is_mean_and_std_over_seeds() -> None:
    table = format_table(RESULTS)
    no_filter = next(line for line in table.splitlines() if line.startswith("no_filter"))
    # colour 35.0 ± 7.1, shape 15.0 ± 7.1, average (25, 25) → 25.0 ± 0.0
    assert no_filter.split()[1:] == ["1000", "35.0", "±", "7.1", "15.0", "±", "7.1", "25.0", "±", "0.0"]
    assert "mean ± std over 2 seed(s)" in table


def test_report_of_a_bench_folder_is_the_benchs_page(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = write_bench(tmp_path / "bench")
    out = tmp_path / "page.html"
    assert main(["report", str(folder), "-o", str(out)]) == 0
    assert "the bench: 4 results" in capsys.readouterr().out
    page = out.read_text()
    assert "<svg" in page and "no_filter (1000)" in page and "25.0 ± 0.0" in page
    assert "<code>basic</code>: its subset is empty" in page
    assert "<b>clipscore-30</b>" not in page and "&lt;b&gt;clipscore-30&lt;/b&gt;" in page  # text, not markup


def test_report_of_a_run_folder_with_bench_json_has_the_bench_section(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run, run)
    out = tmp_path / "page.html"
    assert main(["report", str(run), "-o", str(out), "--images", ""]) == 0
    assert 'id="bench"' not in out.read_text()
    write_bench(run)
    assert main(["report", str(run), "-o", str(out), "--images", ""]) == 0
    page = out.read_text()
    assert 'href="#bench"' in page and 'id="bench"' in page and 'id="scores"' in page
    assert "average accuracy per method" in page and "35.0 ± 7.1" in page


def test_a_bench_json_without_results_is_named(tmp_path: Path) -> None:
    (tmp_path / "bench.json").write_text(json.dumps({"results": [{"method": "x"}]}))
    with pytest.raises(InputError, match=r"bench\.json: not a bench result file"):
        read_bench(tmp_path)
    (tmp_path / "bench.json").write_text("{")
    with pytest.raises(InputError, match=r"bench\.json: not a bench result file"):
        read_bench(tmp_path)
