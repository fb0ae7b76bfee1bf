"""EngineConfig: recipe section, validation, CLI options, engine choice; nothing here starts Ray."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import pytest

from pairsift.cli import build_parser
from pairsift.cli.score import score_config
from pairsift.engines import EngineConfig, Resources, make_engine
from pairsift.engines.local import LocalEngine
from pairsift.engines.ray_engine import RayEngine
from pairsift.errors import ConfigError
from pairsift.stages.score_config import ScoreConfig

BASE: dict[str, Any] = {"pool": "p", "output": "o", "scorers": ["clip_score"]}


def test_the_engine_section_of_a_recipe_is_typed_and_round_trips() -> None:
    raw = {
        "kind": "ray",
        "address": "auto",
        "retries": 1,
        "resources": {
            "score": {"cpus": 2, "gpus": 0.25, "actors": 8},
            "embed": {"gpus": 1, "batch_size": 512},
        },
    }
    config = ScoreConfig.from_dict({**BASE, "engine": raw})
    assert config.engine.stage("score") == Resources(cpus=2, gpus=0.25, actors=8)
    assert config.engine.stage("caption") == Resources()  # unmentioned stages get the defaults
    assert ScoreConfig.from_dict(config.to_dict()) == config
    assert ScoreConfig.from_dict(BASE).engine == EngineConfig()


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        ({"kind": "slurm"}, "unknown engine 'slurm'; available: local, ray"),
        ({"nodes": 4}, r"unknown engine keys \['nodes'\]"),
        ({"retries": -1}, "engine.retries must be an integer >= 0"),
        (
            {"resources": {"scoring": {}}},
            "unknown stage 'scoring'; available: caption, embed, report, reshard, score, select",
        ),
        ({"resources": {"score": {"gpus": 1.5}}}, "more than one GPU must be a whole number"),
        ({"resources": {"score": {"cpus": 0}}}, r"engine.resources.score.cpus must be a number > 0"),
        ({"resources": {"embed": {"actors": 0}}}, r"engine.resources.embed.actors must be an integer >= 1"),
        ({"resources": {"embed": {"memory": 4}}}, r"unknown engine.resources.embed keys \['memory'\]"),
        ({"resources": {"score": {"batch_size": 64}}}, "score.batch_size is not a resource: scoring runs no"),
        ({"resources": {"caption": {"batch_size": 8}}}, "captions are seeded per batch"),
        ("ray", "'engine' must be a mapping"),
    ],
)
def test_bad_engine_sections_are_refused_naming_the_key(engine: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ScoreConfig.from_dict({**BASE, "engine": engine})


def parse(*argv: str) -> Any:
    return build_parser().parse_args(["score", "pool", "-o", "out", "--scorer", "clip_score", *argv])


def test_cli_options_fill_the_engine_section_and_set_wins() -> None:
    args = parse("--engine", "ray", "--ray-address", "ray://head:10001", "--gpus-per-actor", "0.5")
    engine = score_config(args).engine
    assert (engine.kind, engine.address) == ("ray", "ray://head:10001")
    assert engine.stage("score") == Resources(gpus=0.5)
    args = parse("--engine", "ray", "--actors", "4", "--set", "engine.resources.score.actors=2")
    assert score_config(args).engine.stage("score").actors == 2
    assert score_config(parse()).engine == EngineConfig()


def test_make_engine_picks_the_engine_and_the_stage_resources() -> None:
    local = make_engine(EngineConfig(workers=3), "score")
    assert isinstance(local, LocalEngine) and local.workers == 3
    if importlib.util.find_spec("ray") is None:
        pytest.skip("the ray extra is not installed")
    config = EngineConfig(kind="ray", retries=1, resources={"embed": Resources(gpus=0.5, actors=4)})
    ray_engine = make_engine(config, "embed", cpus=3)  # cpus: the stage's default
    assert isinstance(ray_engine, RayEngine)
    assert (ray_engine.cpus, ray_engine.gpus, ray_engine.actors, ray_engine.retries) == (3, 0.5, 4, 1)


def test_without_ray_installed_the_ray_engine_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"pip install 'pairsift\[ray\]'"):
        make_engine(EngineConfig(kind="ray"), "score")


def test_the_cli_starts_without_importing_ray_or_torch() -> None:
    code = "import sys; from pairsift.cli import build_parser; build_parser(); "
    code += "print(sorted({'ray', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
