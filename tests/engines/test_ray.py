"""The Ray engine on a real local Ray (2 CPUs, started once for this module).

``score``, ``embed`` and ``run`` write the same bytes under ``--engine ray`` as under ``--engine local``;
a run interrupted under one engine is finished by the other; a shard that raises is retried by Ray,
then reported with its error while the other shards go on.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'pairsift[ray]')")

from pairsift.cli import main  # noqa: E402
from pairsift.engines.ray_engine import RayEngine  # noqa: E402
from pairsift.errors import ConfigError  # noqa: E402
from pairsift.io.subsets import write_subset  # noqa: E402
from pairsift.uids import from_hex  # noqa: E402
from pairsift.world.synth import SynthConfig, write_pool, write_targets  # noqa: E402
from tests.embed_data import mixed_tar, sample, write_tar  # noqa: E402
from tests.engines.ray_tasks import CountingTask, DyingTask  # noqa: E402
from tests.models.tiny import write_local_dir  # noqa: E402
from tests.ray_local import local_ray as one_local_ray  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One local Ray for the whole module; the engine joins it instead of starting its own."""
    with one_local_ray():
        yield


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ray-pool")
    synth = SynthConfig(shards=3, rows_per_shard=300, dim=32)
    return write_pool(root / "pool", synth), write_targets(root / "targets.npy", synth, count=100)


def files(directory: Path, pattern: str = "*") -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob(pattern)) if p.is_file()}


SCORERS = {
    "per-shard": ["clip_score", "neg_clip_loss:batch_size=128,k=2", "norm_sim:p=inf,target={targets}"],
    "pool-stage": ["clip_score", "norm_sim_d:iters=2"],  # staged tables, then a pool stage
}


def score_args(pool: Path, targets: Path, out: Path, *extra: str, scorers: str = "per-shard") -> list[str]:
    specs = [arg for spec in SCORERS[scorers] for arg in ("--scorer", spec.format(targets=targets))]
    return ["-q", "score", str(pool), "-o", str(out), *specs, "--device", "cpu", *extra]


@pytest.fixture(scope="module")
def local_scores(pool: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The score tables of an uninterrupted local run, per scorer set."""
    tables = {}
    for scorers in SCORERS:
        out = tmp_path_factory.mktemp("local") / "run"
        assert main(score_args(*pool, out, scorers=scorers)) == 0
        tables[scorers] = files(out / "scores")
    return tables


def test_score_writes_the_same_bytes_as_the_local_engine(pool, local_scores, tmp_path) -> None:
    out = tmp_path / "run"
    assert main(score_args(*pool, out, "--engine", "ray", "--actors", "2")) == 0
    assert len(local_scores["per-shard"]) == 3
    assert files(out / "scores") == local_scores["per-shard"]


@pytest.mark.parametrize("scorers", list(SCORERS))
def test_a_run_interrupted_under_one_engine_is_finished_by_the_other(
    scorers, pool, local_scores, tmp_path, capsys
) -> None:
    source, targets = pool
    broken = tmp_path / "pool"
    shutil.copytree(source, broken)
    npz = broken / "00000001.npz"
    good = npz.read_bytes()
    directions = (("ray", "local"), ("local", "ray")) if scorers == "per-shard" else (("ray", "local"),)
    for first, then in directions:
        out = tmp_path / f"{first}-then-{then}"
        npz.write_bytes(b"not an npz")  # the run is cut short: one shard cannot be read
        one = ("--actors", "1")
        cut_short = score_args(
            broken, targets, out, "--engine", first, *one, "--retries", "0", scorers=scorers
        )
        assert main(cut_short) == 1
        assert "FAILED 00000001: InputError" in capsys.readouterr().out
        done = out / ("scores" if scorers == "per-shard" else ".staging")
        assert sorted(files(done)) == ["00000000.parquet", "00000002.parquet"]
        npz.write_bytes(good)
        assert main(score_args(broken, targets, out, "--engine", then, *one, scorers=scorers)) == 0
        assert files(out / "scores") == local_scores[scorers]


def test_run_writes_the_same_scores_and_subset_under_both_engines(pool, tmp_path) -> None:
    source, targets = pool
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        args = ["-q", "run", "negcliploss-normsim-inf", "--pool", str(source), "-o", str(out)]
        args += ["--var", f"target={targets}", "--set", "scorers.0.batch_size=128"]
        assert main([*args, "--set", "compute.device=cpu", "--engine", engine, "--actors", "1"]) == 0
        outputs[engine] = files(out / "scores"), (out / "subset.npy").read_bytes()
    assert outputs["ray"] == outputs["local"]
    assert len(outputs["ray"][1]) > 128  # a header and int(0.2 * 900) uids


def test_embed_writes_the_same_bytes_as_the_local_engine(tmp_path) -> None:
    model = write_local_dir(tmp_path / "model", seed=3)
    for i in range(3):
        mixed_tar(tmp_path / "tars" / f"shard-{i}.tar", offset=10 * i)
    common = ["-q", "embed", str(tmp_path / "tars"), "--model", f"open_clip:local-dir:{model}"]
    common += ["--batch-size", "2", "--num-workers", "0", "--device", "cpu", "--max-pixels", "5000"]
    assert main([*common, "-o", str(tmp_path / "local")]) == 0
    assert main([*common, "-o", str(tmp_path / "ray"), "--engine", "ray", "--actors", "1"]) == 0
    local, remote = files(tmp_path / "local", "shard-*"), files(tmp_path / "ray", "shard-*")
    assert len(local) == 6
    assert remote == local
    (tmp_path / "ray" / "shard-1.parquet").unlink()  # as if the Ray run had stopped before this marker
    assert main([*common, "-o", str(tmp_path / "ray"), "--engine", "local"]) == 0
    assert files(tmp_path / "ray", "shard-*") == local


def test_caption_writes_the_same_bytes_as_the_local_engine(tmp_path) -> None:
    from tests.models.tiny_blip import save_tiny_blip

    blip = save_tiny_blip(tmp_path / "blip")
    for i in range(3):
        mixed_tar(tmp_path / "tars" / f"shard-{i}.tar", offset=10 * i)
    common = ["-q", "caption", str(tmp_path / "tars"), "--model", str(blip), "--num-captions", "2"]
    common += ["--max-length", "8", "--batch-size", "2", "--num-workers", "0", "--device", "cpu"]
    assert main([*common, "-o", str(tmp_path / "local")]) == 0
    assert main([*common, "-o", str(tmp_path / "ray"), "--engine", "ray", "--actors", "1"]) == 0
    local = files(tmp_path / "local", "shard-*")
    assert len(local) == 3 and files(tmp_path / "ray", "shard-*") == local
    (tmp_path / "ray" / "shard-2.parquet").unlink()  # as if the Ray run had stopped before this marker
    assert main([*common, "-o", str(tmp_path / "ray")]) == 0
    assert files(tmp_path / "ray", "shard-*") == local


def test_reshard_writes_the_same_bytes_as_the_local_engine(tmp_path) -> None:
    uids = [f"{i:032x}" for i in range(1, 19)]
    for t in range(3):
        mixed = [(f"{t}{i:03d}", sample(i, f"caption {i}", uid=uids[6 * t + i])) for i in range(6)]
        write_tar(tmp_path / "tars" / f"{t:05d}.tar", mixed)
    write_subset(tmp_path / "subset.npy", from_hex(uids[::2] + uids[:3]))  # every other one, some twice
    common = ["-q", "reshard", "--input", str(tmp_path / "tars"), "--subset", str(tmp_path / "subset.npy")]
    assert main([*common, "-o", str(tmp_path / "local"), "--shard-size", "2"]) == 0
    assert main([*common, "-o", str(tmp_path / "ray"), "--shard-size", "2", "--engine", "ray"]) == 0
    for pattern in ("*.tar", "*.stats.json", "*.uids.npy"):
        local = files(tmp_path / "local", pattern)
        assert len(local) >= 3
        assert files(tmp_path / "ray", pattern) == local


def test_a_failing_shard_is_retried_then_reported_and_the_others_go_on(tmp_path) -> None:
    engine = RayEngine(actors=2, retries=2)
    outcomes = {o.shard: o for o in engine.map(CountingTask(tmp_path), ["a", "bad", "flaky", "c"])}
    attempts = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert attempts == {"a": 1, "bad": 3, "flaky": 2, "c": 1}  # 1 attempt + 2 retries for "bad"
    assert {s: o.result for s, o in outcomes.items()} == {"a": "A", "bad": None, "flaky": "FLAKY", "c": "C"}
    failure = outcomes["bad"].failure
    assert failure is not None and failure.error == "RuntimeError: broken shard (attempt 3)"
    assert {s: o.attempts for s, o in outcomes.items()} == {"a": 1, "bad": 3, "flaky": 2, "c": 1}


def test_an_actor_that_dies_costs_its_shard_only(tmp_path) -> None:
    outcomes = {o.shard: o for o in RayEngine(actors=1, retries=0).map(DyingTask(), ["die"])}
    failure = outcomes["die"].failure
    assert failure is not None and "ActorDiedError" in failure.error


def test_a_task_that_cannot_set_up_fails_every_shard_with_its_error() -> None:
    outcomes = list(RayEngine(actors=1, retries=0).map(DyingTask(fail_setup=True), ["a", "b", "c"]))
    assert sorted(o.shard for o in outcomes) == ["a", "b", "c"]
    for outcome in outcomes:
        assert outcome.failure is not None and "model.safetensors" in outcome.failure.error


@pytest.mark.parametrize(
    ("cpus", "gpus", "actors", "expected"),
    [(1.0, 0.0, None, 2), (2.0, 0.0, None, 1), (0.5, 0.0, None, 3), (1.0, 0.0, 5, 3)],
)
def test_actors_default_to_what_the_cluster_fits_at_most_one_per_shard(cpus, gpus, actors, expected) -> None:
    engine = RayEngine(cpus=cpus, gpus=gpus, actors=actors)
    assert engine._actor_count(ray, shards=3) == expected


def test_a_stage_that_needs_a_gpu_on_a_cluster_without_one_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"0 GPUs.*gpus=0\.5"):
        RayEngine(gpus=0.5)._actor_count(ray, shards=3)
