"""A scorer from the user's own module, end to end: ``--plugin`` in-process, in spawned worker processes,
on a local Ray; an installed package's ``pairsift.scorers`` entry point; ``plugins:`` in a recipe.

The scorer (:mod:`tests.plugins.example_scorers`) travels to workers by value: its ``scale`` parameter
is pickled, its ``setup`` state (``scale_``) is not, so every engine must import the module and set the
scorer up again. Each engine writes the same bytes as the in-process run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift import plugins
from pairsift.cli import main
from pairsift.io.subsets import read_subset
from pairsift.scorers import SCORERS
from pairsift.uids import to_hex
from tests import pools, reference
from tests.ray_local import LOOPBACK, node_addresses

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "tests.plugins.example_scorers"
COLUMN = "text_norm_gap"
EP_MODULE, EP_COLUMN = "tests.plugins.example_scorers_ep", "ep_norm_gap"
SCALE = 2.5  # not the default: a worker that lost the parameter would write other bytes
SHARDS = ["00000000", "00000001", "00000002"]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def score_args(pool: Path, out: Path, *extra: str, scorer: str = COLUMN, plugin: bool = True) -> list[str]:
    args = ["-q", "score", str(pool), "-o", str(out), "--scorer", f"{scorer}:scale={SCALE}"]
    return [*args, "--device", "cpu", *(("--plugin", PLUGIN) if plugin else ()), *extra]


def tables(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "scores").iterdir())}


def cli(*args: str, pythonpath: str = str(ROOT)) -> subprocess.CompletedProcess[str]:
    """``python -m pairsift.cli ARGS`` in a fresh interpreter: its registries know only what it imports."""
    env = {**os.environ, "PYTHONPATH": pythonpath, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "pairsift.cli", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def expected_gap(pool: Path, shard: str) -> np.ndarray:
    """The slow float64 reference: ``scale · (1 − f̂ · ĝ)`` on renormalised rows."""
    arrays = pools.read_npz(pool / f"{shard}.npz")
    return SCALE * (1.0 - reference.clip_score(arrays["l14_img"], arrays["l14_txt"]))


@pytest.fixture(scope="module", autouse=True)
def isolated_registry() -> Iterator[None]:
    """Registering is process-wide: after this module, pairsift's scorer registry holds the built-ins
    only again and the plugin modules are forgotten (other modules check the registry's exact names)."""
    with pytest.MonkeyPatch.context() as patch:
        SCORERS.names()  # load the built-ins first: they stay registered after the copy is dropped
        patch.setattr(SCORERS, "_entries", dict(SCORERS._entries))
        yield
    package = sys.modules["tests.plugins"]
    for module in (PLUGIN, EP_MODULE):
        sys.modules.pop(module, None)
        if hasattr(package, module.rpartition(".")[2]):
            delattr(package, module.rpartition(".")[2])


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # float16 embeddings are not unit-norm in float32: the scorer must see renormalised rows
    root = tmp_path_factory.mktemp("plugin-pool")
    return pools.make_pool(root / "pool", shards=len(SHARDS), rows=40, dim=16, dtype="float16")


@pytest.fixture(scope="module")
def in_process(pool: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of ``pairsift score --plugin`` in this process."""
    run = tmp_path_factory.mktemp("in-process") / "run"
    assert main(score_args(pool, run)) == 0
    return run


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local Ray (2 CPUs) for the module; the engine joins it instead of starting its own.

    Ray workers do not inherit the driver's ``sys.path``: they get its working directory (and script
    directory) only, so ``tests.plugins`` would import only when pytest runs from the repository root.
    The repository root on the workers' ``PYTHONPATH`` (``runtime_env``) makes it importable from anywhere,
    as an installed plugin would be.
    """
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'pairsift[ray]')")
    started = not ray.is_initialized()
    if started:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        ray.init(
            address="local",  # never a cluster another process started on this machine
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": {"PYTHONPATH": path}},
        )
        assert node_addresses() == [LOOPBACK], node_addresses()
    yield ray
    if started:
        ray.shutdown()


def test_plugin_scorer_runs_in_process_and_matches_the_reference(pool, in_process) -> None:
    assert sorted(tables(in_process)) == [f"{s}.parquet" for s in SHARDS]
    for shard in SHARDS:
        table = pq.read_table(in_process / "scores" / f"{shard}.parquet")
        assert table.schema.names == ["uid", "status", COLUMN]
        assert table.schema.field(COLUMN).type == pa.float32()
        assert table.column("status").to_pylist() == ["ok"] * 40
        values = table.column(COLUMN).to_numpy()
        np.testing.assert_allclose(values, expected_gap(pool, shard), rtol=0, atol=1e-5)
    (recorded,) = json.loads((in_process / "run.json").read_text())["scorers"]
    assert recorded["column"] == COLUMN
    assert recorded["params"] == {"name": None, "scale": SCALE}
    assert recorded["higher_is_better"] is False


def test_worker_processes_write_the_same_bytes(pool, in_process, tmp_path) -> None:
    # spawned children get this process's sys.path (pytest's rootdir included): no PYTHONPATH needed
    run = tmp_path / "run"
    assert main(score_args(pool, run, "--workers", "2")) == 0
    assert tables(run) == tables(in_process)


def test_ray_actors_write_the_same_bytes(pool, in_process, local_ray, tmp_path) -> None:
    run = tmp_path / "run"
    assert main(score_args(pool, run, "--engine", "ray", "--actors", "2")) == 0
    assert tables(run) == tables(in_process)


def test_an_unknown_scorer_without_its_plugin_is_a_clean_error(pool, tmp_path) -> None:
    run = tmp_path / "run"
    done = cli(*score_args(pool, run, plugin=False))
    assert done.returncode == 2, done.stderr
    assert f"unknown scorer '{COLUMN}'; available: " in done.stderr and "clip_score, column" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (run / "scores").exists()


def test_a_plugin_that_cannot_be_imported_is_a_clean_error(pool, tmp_path, caplog) -> None:
    args = ["-q", "score", str(pool), "-o", str(tmp_path / "run"), "--scorer", "clip_score"]
    assert main([*args, "--plugin", "tests.plugins.no_such_module"]) == 2
    assert "--plugin tests.plugins.no_such_module: cannot import it" in caplog.text


def write_dist_info(site: Path) -> Path:
    """An installed distribution, as pip leaves it, whose entry point names the plugin module."""
    info = site / "pairsift_example_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pairsift-example-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[pairsift.scorers]\nexample = {EP_MODULE}\n")
    return info


def test_an_entry_point_registers_its_scorer_everywhere(pool, in_process, tmp_path, monkeypatch) -> None:
    site = tmp_path / "site"
    write_dist_info(site)
    monkeypatch.syspath_prepend(str(site))
    found = {e.name: e.value for e in metadata.entry_points(group="pairsift.scorers")}
    assert found["example"] == EP_MODULE
    # in this process: the first unknown name loads the installed plugins (state and registry restored after)
    monkeypatch.setitem(plugins._state, "loaded", False)
    monkeypatch.setattr(SCORERS, "_entries", dict(SCORERS._entries))
    assert EP_MODULE not in sys.modules
    assert SCORERS.get(EP_COLUMN).__module__ == EP_MODULE
    assert plugins._state["loaded"] is True
    # and in a fresh interpreter without --plugin, whose spawned workers unpickle the scorer
    run = tmp_path / "run"
    args = score_args(pool, run, "--workers", "2", scorer=EP_COLUMN, plugin=False)
    done = cli(*args, pythonpath=os.pathsep.join([str(site), str(ROOT)]))
    assert done.returncode == 0, done.stderr
    for shard in SHARDS:
        got = pq.read_table(run / "scores" / f"{shard}.parquet").column(EP_COLUMN).to_numpy()
        want = pq.read_table(in_process / "scores" / f"{shard}.parquet").column(COLUMN).to_numpy()
        assert got.tobytes() == want.tobytes()


def test_a_recipe_loads_its_plugins_and_selects_on_the_plugin_column(pool, in_process, tmp_path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"plugins: [{PLUGIN}]\n"
        "embeddings: l14\n"
        f"scorers:\n  - {COLUMN}:scale={SCALE}\n"
        "compute: {device: cpu}\n"
        f"select:\n  rules:\n    - top: {COLUMN}=0.5\n"
    )
    run = tmp_path / "run"
    assert main(["-q", "run", str(recipe), "--pool", str(pool), "-o", str(run)]) == 0
    assert tables(run) == tables(in_process)
    kept = set(to_hex(read_subset(run / "subset.npy")).tolist())
    uids = [u for s in SHARDS for u in pools.read_uids(pool / f"{s}.parquet")]
    gaps = np.concatenate([expected_gap(pool, s) for s in SHARDS])
    best = {uids[i] for i in np.argsort(gaps, kind="stable")[: len(uids) // 2]}  # lower gap is better
    assert kept == best
