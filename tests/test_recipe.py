"""Scorer specs, YAML recipes, ``--set`` overrides and their errors."""

from __future__ import annotations

import json
import logging

import pytest
import yaml

from pairsift.cli import build_parser, main
from pairsift.cli.score import score_config
from pairsift.errors import ConfigError
from pairsift.io.sources import SourceConfig
from pairsift.params import parse_scalar
from pairsift.recipe import apply_overrides, read_yaml
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec

# --- ScorerSpec.parse ---------------------------------------------------------------------------


def test_parse_bare_name():
    spec = ScorerSpec.parse("clip_score")
    assert spec == ScorerSpec("clip_score", {})
    assert spec.to_dict() == {"kind": "clip_score"}


def test_parse_name_with_params_and_their_types():
    spec = ScorerSpec.parse("neg_clip_loss:k=2,batch_size=64,tau=0.02,remainder=reference,name=ncl")
    assert spec.kind == "neg_clip_loss"
    assert spec.params == {"k": 2, "batch_size": 64, "tau": 0.02, "remainder": "reference", "name": "ncl"}
    assert type(spec.params["k"]) is int and type(spec.params["batch_size"]) is int
    assert type(spec.params["tau"]) is float


def test_parse_inf_stays_a_string():
    spec = ScorerSpec.parse("norm_sim:p=inf,target=in1k.npy")
    assert spec.params == {"p": "inf", "target": "in1k.npy"}
    assert isinstance(spec.params["p"], str)


@pytest.mark.parametrize(
    ("text", "value"),
    [("10", 10), ("0.5", 0.5), ("inf", "inf"), ("abc", "abc"), ("", ""), ("-3", -3), ("true", True)],
)
def test_parse_scalar(text, value):
    parsed = parse_scalar(text)
    assert parsed == value and type(parsed) is type(value)


def test_parse_strips_spaces_and_empty_items():
    assert ScorerSpec.parse(" neg_clip_loss : k = 3 , , batch_size=8 ,") == ScorerSpec(
        "neg_clip_loss", {"k": 3, "batch_size": 8}
    )
    assert ScorerSpec.parse("clip_score:") == ScorerSpec("clip_score", {})


def test_parse_splits_on_the_first_colon_only():
    spec = ScorerSpec.parse("norm_sim:target=s3://bucket/t.npz,target_key=l14_img")
    assert spec.params == {"target": "s3://bucket/t.npz", "target_key": "l14_img"}


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"kind": "neg_clip_loss", "k": 5}, ScorerSpec("neg_clip_loss", {"k": 5})),
        (
            {"neg_clip_loss": {"k": 5, "batch_size": 8}},
            ScorerSpec("neg_clip_loss", {"k": 5, "batch_size": 8}),
        ),
        ({"clip_score": None}, ScorerSpec("clip_score", {})),
        ({"kind": "clip_score"}, ScorerSpec("clip_score", {})),
    ],
)
def test_parse_mappings(mapping, expected):
    original = json.dumps(mapping, sort_keys=True)
    assert ScorerSpec.parse(mapping) == expected
    assert json.dumps(mapping, sort_keys=True) == original  # input left alone


def test_parse_passes_specs_through_and_round_trips():
    spec = ScorerSpec("norm_sim", {"p": "inf", "target": "t.npy"})
    assert ScorerSpec.parse(spec) is spec
    assert ScorerSpec.parse(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ("neg_clip_loss:k", r"expected key=value, got 'k'"),
        ("neg_clip_loss:=3", r"expected key=value, got '=3'"),
        ("", "non-empty string or mapping"),
        ("   ", "non-empty string or mapping"),
        (5, "non-empty string or mapping"),
        ({"a": {}, "b": {}}, "needs a 'kind' key or a single NAME"),
        ({"neg_clip_loss": 5}, "parameters must be a mapping"),
    ],
)
def test_parse_errors(bad, match):
    with pytest.raises(ConfigError, match=match):
        ScorerSpec.parse(bad)


# --- ScoreConfig from a dict (a recipe) ------------------------------------------------------------


def test_from_dict_defaults_and_round_trip():
    config = ScoreConfig.from_dict({"pool": "p", "output": "o", "scorers": ["clip_score"]})
    assert config.embeddings == "l14" and config.seed == 0
    assert config.source == SourceConfig() and config.compute == ComputeConfig()
    assert config.scorers == (ScorerSpec("clip_score"),)
    again = ScoreConfig.from_dict(config.to_dict())
    assert again == config


def test_from_dict_full():
    raw = {
        "pool": "p",
        "output": "o",
        "embeddings": "b32",
        "scorers": ["clip_score", {"neg_clip_loss": {"k": 2}}, {"kind": "norm_sim", "target": "t.npy"}],
        "source": {"kind": "parquet", "uid_column": "id"},
        "compute": {"device": "cpu"},
        "engine": {"workers": 3},
        "seed": 9,
    }
    config = ScoreConfig.from_dict(raw)
    assert config.scorers == (
        ScorerSpec("clip_score"),
        ScorerSpec("neg_clip_loss", {"k": 2}),
        ScorerSpec("norm_sim", {"target": "t.npy"}),
    )
    assert config.source == SourceConfig(kind="parquet", uid_column="id")
    assert config.compute == ComputeConfig(device="cpu") and config.engine.workers == 3
    assert config.embeddings == "b32" and config.seed == 9


def test_compute_workers_still_works_and_moves_to_the_engine(caplog):
    raw = {"pool": "p", "output": "o", "scorers": ["clip_score"], "compute": {"device": "cpu", "workers": 3}}
    with caplog.at_level(logging.WARNING):
        config = ScoreConfig.from_dict(raw)
    assert config.compute == ComputeConfig(device="cpu") and config.engine.workers == 3
    assert "compute.workers is deprecated" in caplog.text
    with_engine = ScoreConfig.from_dict({**raw, "engine": {"workers": 2}})
    assert with_engine.engine.workers == 2  # the engine section wins


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (
            {"pool": "p", "output": "o", "scorers": ["x"], "scorer": ["y"]},
            r"unknown recipe keys \['scorer'\]",
        ),
        (
            {"pool": "p", "output": "o", "scorers": ["x"], "source": {"uid": "id"}},
            r"unknown source keys \['uid'\]",
        ),
        (
            {"pool": "p", "output": "o", "scorers": ["x"], "compute": {"gpus": 2}},
            r"unknown compute keys \['gpus'\]",
        ),
        ({"pool": "p", "output": "o", "scorers": ["x"], "compute": "cpu"}, "'compute' must be a mapping"),
        ({"output": "o", "scorers": ["x"]}, "recipe is missing 'pool'"),
        ({"pool": "p", "scorers": ["x"]}, "recipe is missing 'output'"),
        ({"pool": "p", "output": "o", "scorers": "clip_score"}, "'scorers' must be a list"),
        ({"pool": "p", "output": "o"}, "no scorer given"),
        ({"pool": "p", "output": "o", "scorers": []}, "no scorer given"),
    ],
)
def test_from_dict_errors(raw, match):
    with pytest.raises(ConfigError, match=match):
        ScoreConfig.from_dict(raw)


def test_unknown_recipe_key_error_lists_the_expected_keys():
    with pytest.raises(ConfigError) as err:
        ScoreConfig.from_dict({"pool": "p", "output": "o", "scorers": ["x"], "workers": 2})
    for key in ("pool", "output", "embeddings", "scorers", "source", "compute", "seed"):
        assert repr(key) in str(err.value)


# --- --set overrides --------------------------------------------------------------------------


def test_override_a_string_form_scorer_by_index():
    raw = {"scorers": ["clip_score", "neg_clip_loss:k=2,batch_size=64"]}
    apply_overrides(raw, ["scorers.1.k=5"])
    assert raw["scorers"] == ["clip_score", {"kind": "neg_clip_loss", "k": 5, "batch_size": 64}]
    apply_overrides(raw, ["scorers.-1.tau=0.02", "scorers.0.name=cs"])
    assert raw["scorers"][1]["tau"] == 0.02
    assert raw["scorers"][0] == {"kind": "clip_score", "name": "cs"}


def test_override_a_mapping_form_scorer():
    raw = {"scorers": [{"norm_sim": {"p": 2, "target": "t.npy"}}]}
    apply_overrides(raw, ["scorers.0.p=inf"])
    assert raw["scorers"] == [{"kind": "norm_sim", "p": "inf", "target": "t.npy"}]


def test_override_creates_sections_and_parses_values():
    raw: dict = {}
    apply_overrides(raw, ["compute.workers=2", "compute.device=cpu", "seed=4", "source.kind=parquet"])
    assert raw == {"compute": {"workers": 2, "device": "cpu"}, "seed": 4, "source": {"kind": "parquet"}}


def test_override_value_may_contain_equals():
    raw: dict = {}
    apply_overrides(raw, ["output=runs/a=b"])
    assert raw == {"output": "runs/a=b"}


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("seed", "expects KEY.PATH=VALUE"),
        ("=3", "expects KEY.PATH=VALUE"),
        ("scorers.2.k=5", r"index 2 is out of range \(list has 2 items\)"),
        ("scorers.first.k=5", "'first' is not a list index"),
        ("pool.x=1", "cannot set 'x' on a scalar"),
        ("pool.x.y=1", "'x' is inside a scalar"),
    ],
)
def test_override_errors(override, match):
    raw = {"pool": "p", "scorers": ["clip_score", "neg_clip_loss"]}
    with pytest.raises(ConfigError, match=match):
        apply_overrides(raw, [override])


# --- recipes through the CLI ------------------------------------------------------------------------


def write_recipe(path, pool, output, **extra):
    recipe = {
        "pool": str(pool),
        "output": str(output),
        "embeddings": "l14",
        "scorers": ["clip_score", "neg_clip_loss:k=2,batch_size=64"],
        "compute": {"device": "cpu"},
        "seed": 1,
        **extra,
    }
    path.write_text(yaml.safe_dump(recipe))
    return path


def parsed(argv):
    return score_config(build_parser().parse_args(argv))


def test_recipe_with_set_overrides(tmp_path):
    recipe = write_recipe(tmp_path / "recipe.yaml", tmp_path / "pool", tmp_path / "run")
    config = parsed(["score", "--config", str(recipe), "--set", "scorers.1.k=5", "--set", "engine.workers=2"])
    assert config.pool == str(tmp_path / "pool") and config.output == str(tmp_path / "run")
    assert config.scorers == (
        ScorerSpec("clip_score"),
        ScorerSpec("neg_clip_loss", {"k": 5, "batch_size": 64}),
    )
    assert config.compute == ComputeConfig(device="cpu") and config.engine.workers == 2
    assert config.seed == 1


def test_command_line_values_override_the_recipe(tmp_path):
    recipe = write_recipe(tmp_path / "recipe.yaml", tmp_path / "pool", tmp_path / "run")
    argv = ["score", str(tmp_path / "other"), "--config", str(recipe), "--seed", "7"]
    argv += [
        "--scorer",
        "clip_score",
        "--workers",
        "3",
        "--source",
        "parquet",
        "--uid-column",
        "id",
        "--embeddings",
        "b32",
    ]
    config = parsed(argv)
    assert config.pool == str(tmp_path / "other")
    assert config.seed == 7 and config.embeddings == "b32"
    assert config.scorers == (ScorerSpec("clip_score"),)
    assert config.compute == ComputeConfig(device="cpu") and config.engine.workers == 3
    assert config.source == SourceConfig(kind="parquet", uid_column="id")
    # --set is applied last, over command-line flags too
    assert parsed([*argv, "--set", "engine.workers=5"]).engine.workers == 5


def test_recipe_run_end_to_end(make_pool, tmp_path):
    pool = make_pool(shards=1, rows=20, dim=8)
    recipe = write_recipe(tmp_path / "recipe.yaml", pool, tmp_path / "run")
    argv = ["-q", "score", "--config", str(recipe), "--set", "scorers.1.k=5", "--set", "engine.workers=2"]
    assert main(argv) == 0
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["config"]["scorers"] == [
        {"kind": "clip_score"},
        {"kind": "neg_clip_loss", "k": 5, "batch_size": 64},
    ]
    assert manifest["config"]["engine"]["workers"] == 2
    assert manifest["compute"]["workers"] == 2
    assert manifest["seed"] == 1
    assert (tmp_path / "run" / "scores" / "00000000.parquet").exists()


@pytest.mark.parametrize(
    ("extra", "override", "fragment"),
    [
        ({"scorer": ["clip_score"]}, None, "unknown recipe keys ['scorer']"),
        ({"compute": {"device": "cpu", "gpu": 1}}, None, "unknown compute keys ['gpu']"),
        ({}, "compute.threads=4", "unknown compute keys ['threads']"),
        ({}, "source.uid=id", "unknown source keys ['uid']"),
        ({}, "scorers.9.k=1", "index 9 is out of range"),
        ({}, "scorers.1.kk=1", "scorer 'neg_clip_loss'"),
    ],
)
def test_recipe_errors_exit_2(make_pool, tmp_path, caplog, extra, override, fragment):
    pool = make_pool(shards=1, rows=4, dim=4)
    recipe = write_recipe(tmp_path / "recipe.yaml", pool, tmp_path / "run", **extra)
    argv = ["-q", "score", "--config", str(recipe)] + (["--set", override] if override else [])
    assert main(argv) == 2
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(fragment in m for m in logged), logged


def test_load_recipe_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read recipe"):
        read_yaml(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        read_yaml(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("pool: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read recipe"):
        read_yaml(tmp_path / "broken.yaml")


def test_missing_recipe_through_cli_exits_2(tmp_path, caplog):
    assert main(["-q", "score", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read recipe" in caplog.text


def test_score_without_pool_or_scorer_exits_2(tmp_path, caplog):
    assert main(["-q", "score", "-o", str(tmp_path / "run"), "--scorer", "clip_score"]) == 2
    assert "recipe is missing 'pool'" in caplog.text
    assert main(["-q", "score", str(tmp_path), "-o", str(tmp_path / "run")]) == 2
    assert "no scorer given" in caplog.text
