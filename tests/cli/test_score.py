"""``pairsift`` end to end: the score table layout, run.json, --json, the scorer list and --help."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.cli import main
from pairsift.scorers import SCORERS, Scorer
from tests import reference
from tests.pools import family_arrays, read_npz, read_uids, write_shard

SHARDS = ["00000000", "00000001"]
ARGS = ["--embeddings", "l14", "--scorer", "clip_score", "--scorer", "neg_clip_loss:k=2,batch_size=64"]


def run_cli(pool: Path, run: Path, *extra: str) -> int:
    return main(["score", str(pool), "-o", str(run), *ARGS, "--device", "cpu", *extra])


@pytest.fixture
def scored(make_pool, tmp_path) -> tuple[Path, Path]:
    pool = make_pool(shards=2, rows=50, dim=16, dtype="float16")
    run = tmp_path / "run"
    assert run_cli(pool, run) == 0
    return pool, run


def test_score_table_layout_and_values(scored):
    pool, run = scored
    assert sorted(p.name for p in (run / "scores").iterdir()) == [f"{s}.parquet" for s in SHARDS]
    for shard in SHARDS:
        table = pq.read_table(run / "scores" / f"{shard}.parquet")
        assert table.schema.names == ["uid", "status", "clip_score", "neg_clip_loss"]
        assert table.schema.types == [pa.string(), pa.string(), pa.float32(), pa.float32()]
        assert table.column("uid").to_pylist() == read_uids(pool / f"{shard}.parquet")
        assert table.column("status").to_pylist() == ["ok"] * 50

        arrays = read_npz(pool / f"{shard}.npz")
        image, text = arrays["l14_img"], arrays["l14_txt"]
        clip = reference.clip_score(image, text)
        np.testing.assert_allclose(table.column("clip_score").to_numpy(), clip, atol=1e-5)
        # batch_size=64 > 50 rows: each shard is one batch, so the value is exact for any k
        ncl = reference.neg_clip_loss(image, text, [[np.arange(len(image))]], tau=0.01)
        np.testing.assert_allclose(table.column("neg_clip_loss").to_numpy(), ncl, atol=1e-4)
        assert (table.column("neg_clip_loss").to_numpy() <= table.column("clip_score").to_numpy()).all()


def test_run_json_records_the_run(scored):
    pool, run = scored
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["config"] == {
        "pool": str(pool),
        "output": str(run),
        "embeddings": "l14",
        "scorers": [{"kind": "clip_score"}, {"kind": "neg_clip_loss", "k": 2, "batch_size": 64}],
        "source": {
            "kind": "auto",
            "uid_column": "uid",
            "image_column": "image_embedding",
            "text_column": "text_embedding",
            "alt_text_column": "text",
        },
        "compute": {"device": "cpu", "precision": "fp32"},
        "seed": 0,
        "engine": {"kind": "local", "workers": 1, "address": None, "retries": 2, "resources": {}},
    }
    assert manifest["seed"] == 0
    assert manifest["embedding_family"] == "l14"
    assert manifest["source"] == {"kind": "datacomp", "url": str(pool), "family": "l14"}
    assert manifest["compute"] == {"device": "cpu", "precision": "fp32", "workers": 1, "engine": "local"}
    scorers = {s["column"]: s for s in manifest["scorers"]}
    assert list(scorers) == ["clip_score", "neg_clip_loss"]
    assert scorers["neg_clip_loss"]["params"]["k"] == 2
    assert scorers["neg_clip_loss"]["params"]["batch_size"] == 64
    assert scorers["neg_clip_loss"]["params"]["tau"] == 0.01  # resolved from the l14 family
    assert scorers["clip_score"]["higher_is_better"] is True
    versions = manifest["versions"]
    assert versions["pairsift"] == metadata.version("pairsift")
    for package in ("numpy", "pyarrow", "torch", "fsspec"):
        assert versions[package] == metadata.version(package)
    assert versions["python"].count(".") == 2
    assert "output" not in manifest["scoring"]  # the output folder is not part of what is compared


def test_text_summary(make_pool, tmp_path, capsys):
    pool = make_pool(shards=2, rows=50, dim=16)
    assert run_cli(pool, tmp_path / "run") == 0
    out = capsys.readouterr().out
    assert f"run directory: {tmp_path / 'run'}" in out
    assert "shards: 2 (2 scored now, 0 already done), rows: 100" in out
    assert "status: ok=100" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert lines["clip_score"][1] == "100" and lines["neg_clip_loss"][1] == "100"


def test_json_summary(make_pool, tmp_path, capsys):
    pool = make_pool(shards=2, rows=50, dim=16)
    run = tmp_path / "run"
    assert run_cli(pool, run, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["run_dir"] == str(run)
    assert (summary["shards"], summary["scored"], summary["skipped"], summary["rows"]) == (2, 2, 0, 100)
    assert summary["statuses"] == {"ok": 100}
    assert summary["failures"] == []
    assert list(summary["columns"]) == ["clip_score", "neg_clip_loss"]
    values = np.concatenate(
        [pq.read_table(run / "scores" / f"{s}.parquet").column("clip_score").to_numpy() for s in SHARDS]
    )
    clip = summary["columns"]["clip_score"]
    assert clip["scored"] == 100
    assert clip["mean"] == pytest.approx(float(values.astype(np.float64).mean()), rel=1e-6)
    assert clip["min"] == pytest.approx(float(values.min()))
    assert clip["max"] == pytest.approx(float(values.max()))

    # a rerun does nothing and says so
    assert run_cli(pool, run, "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["scored"], again["skipped"], again["rows"]) == (0, 2, 100)
    assert again["columns"] == summary["columns"]


def test_json_summary_lists_failures_and_exit_code_1(make_pool, tmp_path, capsys):
    pool = make_pool(shards=2, rows=10, dim=16)
    (pool / "00000001.parquet").write_bytes(b"broken")
    assert run_cli(pool, tmp_path / "run", "--json") == 1
    summary = json.loads(capsys.readouterr().out)
    assert [f["shard"] for f in summary["failures"]] == ["00000001"]
    assert str(pool / "00000001.parquet") in summary["failures"][0]["error"]
    assert summary["rows"] == 10


def _reject_constant(name: str) -> None:
    raise ValueError(f"not JSON: {name}")


def test_json_summary_is_strict_json_when_nothing_scores(tmp_path, capsys):
    write_shard(tmp_path / "pool", "s", [], family_arrays(np.zeros((0, 8)), np.zeros((0, 8))))
    assert run_cli(tmp_path / "pool", tmp_path / "run", "--json") == 0
    json.loads(capsys.readouterr().out, parse_constant=_reject_constant)


def test_scorers_lists_the_registry(capsys):
    assert main(["scorers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    aliases = SCORERS.aliases()
    assert [line.split()[0] for line in lines] == SCORERS.names() + sorted(aliases)
    assert {"clip_score", "column", "neg_clip_loss", "norm_sim", "norm_sim_d"} <= set(SCORERS.names())
    assert lines[-1].split() == ["s_clip_loss", "another", "name", "of", "neg_clip_loss"]
    for line, name in zip(lines, SCORERS.names(), strict=False):
        summary = (SCORERS.get(name).__doc__ or "").strip().splitlines()[0]
        assert line[len(name) :].strip() == summary.strip()


class _Undocumented(Scorer):
    def score_valid(self, batch, valid, compute, *, seed):  # pragma: no cover - never scored
        raise AssertionError


_Undocumented.__doc__ = None


def test_scorers_lists_a_scorer_without_docstring(monkeypatch, capsys):
    monkeypatch.setitem(SCORERS._entries, "zz_undocumented", _Undocumented)
    assert main(["scorers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[len(SCORERS.names()) - 1].split() == ["zz_undocumented"]


@pytest.mark.parametrize("command", [[], ["score"], ["scorers"], ["demo"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pairsift" + (f" {command[0]}" if command else ""))


def test_score_help_points_to_the_scorer_list_and_options(capsys):
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "`pairsift scorers` lists the names" in out
    for option in ("--embeddings", "--scorer", "--config", "--set", "--device", "--workers", "--json"):
        assert option in out


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "usage: pairsift" in capsys.readouterr().err
