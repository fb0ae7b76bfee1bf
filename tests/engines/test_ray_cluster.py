"""The Ray engine on a real multi-node Ray: a head and two worker nodes started on this machine
(``ray.cluster_utils.Cluster``, each node its own raylet, object store and temp dir).

The head has no CPU, so every actor runs on a worker node and each worker node holds the same number
of them. Outputs go to the test S3 server (moto on loopback, :mod:`tests.s3_server`; the driver's job
environment carries its endpoint and credentials to every actor). ``score``, ``embed`` and ``reshard``
on Ray write the same bytes to ``s3://`` as the local engine writes to local disk; a worker node
killed (its raylet, without a goodbye) while its actors hold shards loses no shard: Ray restarts its
actors on a node that joins in its place and runs their shards again, and the driver reports which
shards were retried, in its log and in the stage's summary.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'pairsift[ray]')")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from pairsift.cli import main  # noqa: E402
from pairsift.io.subsets import write_subset  # noqa: E402
from pairsift.uids import from_hex  # noqa: E402
from pairsift.world.synth import SynthConfig, write_pool  # noqa: E402
from tests.embed_data import mixed_tar, sample, write_tar  # noqa: E402
from tests.models.tiny import write_local_dir  # noqa: E402
from tests.ray_local import LOOPBACK, node_addresses  # noqa: E402
from tests.s3_server import download_tree, s3_env  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WORKER_CPUS = 2
ACTORS = 2 * WORKER_CPUS  # every CPU of both worker nodes: two actors on each
#: a killed raylet is noticed within about a second (Ray's default is 5 missed 3 s health checks)
FAST_HEALTH_CHECKS = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_failure_threshold": 3,
}
GATED = "tests.engines.gated_scorer"
#: the cluster's folder (one temp dir per node in it)
NODES: list[Path] = []


@pytest.fixture(scope="module")
def cluster(s3_server: Any) -> Iterator[Any]:
    if ray.is_initialized():
        ray.shutdown()  # another module's one-node Ray
    # a short folder: a node's socket paths under its temp dir must stay below 108 bytes
    nodes = Path(tempfile.mkdtemp(prefix="ps-ray-"))
    NODES[:] = [nodes]
    head = {"num_cpus": 0, "include_dashboard": False, "temp_dir": str(nodes / "head")}
    built = cluster_utils.Cluster(
        initialize_head=True, head_node_args={**head, "_system_config": FAST_HEALTH_CHECKS}
    )
    forget_address(built.address)
    for name in ("worker-1", "worker-2"):
        built.add_node(num_cpus=WORKER_CPUS, temp_dir=str(nodes / name))
    job_env = {"env_vars": s3_env(s3_server.endpoint)}  # every actor reaches the test S3 server
    ray.init(address=built.address, log_to_driver=False, configure_logging=False, runtime_env=job_env)
    built.wait_for_nodes()
    yield built
    ray.shutdown()
    built.shutdown()
    shutil.rmtree(nodes, ignore_errors=True)


def forget_address(address: str) -> None:
    """``Cluster`` writes its address where every ``ray.init()`` on this machine looks (for "auto"): remove
    it, so that no other Ray test, here or in another checkout, joins this cluster by accident (the
    driver here connects by address)."""
    from ray._private.utils import get_ray_address_file

    path = Path(get_ray_address_file(None))
    if path.exists() and path.read_text().strip() == address:
        path.unlink()


def files(directory: Path, pattern: str = "*") -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob(pattern)) if p.is_file()}


def alive_nodes() -> int:
    return sum(1 for node in ray.nodes() if node["Alive"])


def test_the_cluster_has_three_nodes_and_actors_on_both_workers(cluster) -> None:
    assert alive_nodes() == 3
    assert ray.cluster_resources()["CPU"] == 2 * WORKER_CPUS


def test_every_node_and_the_driver_are_on_loopback_and_listen_only_there(cluster) -> None:
    psutil = pytest.importorskip("psutil")  # a dependency of ray
    assert node_addresses() == [LOOPBACK] * 3
    assert cluster.address.startswith(f"{LOOPBACK}:")
    assert ray.util.get_node_ip_address() == LOOPBACK  # the driver's node
    ours = {p.pid for p in psutil.Process().children(recursive=True)} | {os.getpid()}
    listening = {
        c.laddr.ip
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in ours
    }
    assert listening and listening <= {LOOPBACK, "::ffff:127.0.0.1", "::1"}, listening


def on_s3(server: Any, url: str, pattern: str = "*") -> dict[str, bytes]:
    """``{name: bytes}`` of the objects directly under ``url`` whose name matches ``pattern``."""
    return {
        k: v
        for k, v in download_tree(server.filesystem(), url).items()
        if "/" not in k and fnmatch(k, pattern)
    }


def test_score_embed_and_reshard_on_s3_write_the_same_bytes_as_the_local_engine(
    cluster, s3, tmp_path
) -> None:
    server, bucket = s3
    on_ray = ("--engine", "ray", "--actors", str(ACTORS))
    pool = write_pool(tmp_path / "pool", SynthConfig(shards=6, rows_per_shard=200, dim=16))
    score = ["-q", "score", str(pool), "--scorer", "clip_score"]
    assert main([*score, "-o", str(tmp_path / "score-local")]) == 0
    assert main([*score, "-o", f"s3://{bucket}/score-ray", *on_ray]) == 0
    local = files(tmp_path / "score-local" / "scores")
    assert len(local) == 6 and on_s3(server, f"s3://{bucket}/score-ray/scores") == local

    model = write_local_dir(tmp_path / "model", seed=3)
    for i in range(4):
        mixed_tar(tmp_path / "tars" / f"shard-{i}.tar", offset=10 * i)
    embed = ["-q", "embed", str(tmp_path / "tars"), "--model", f"open_clip:local-dir:{model}"]
    embed += ["--batch-size", "2", "--num-workers", "0", "--device", "cpu", "--max-pixels", "5000"]
    assert main([*embed, "-o", str(tmp_path / "embed-local")]) == 0
    assert main([*embed, "-o", f"s3://{bucket}/embed-ray", *on_ray]) == 0
    local = files(tmp_path / "embed-local", "shard-*")
    assert len(local) == 8 and on_s3(server, f"s3://{bucket}/embed-ray", "shard-*") == local

    uids = [f"{i:032x}" for i in range(1, 25)]
    for t in range(4):
        mixed = [(f"{t}{i:03d}", sample(i, f"caption {i}", uid=uids[6 * t + i])) for i in range(6)]
        write_tar(tmp_path / "raw" / f"{t:05d}.tar", mixed)
    write_subset(tmp_path / "subset.npy", from_hex(uids[::2]))
    reshard = ["-q", "reshard", "--input", str(tmp_path / "raw"), "--subset", str(tmp_path / "subset.npy")]
    reshard += ["--shard-size", "2"]
    assert main([*reshard, "-o", str(tmp_path / "reshard-local")]) == 0
    assert main([*reshard, "-o", f"s3://{bucket}/reshard-ray", *on_ray]) == 0
    for pattern in ("*.tar", "*.stats.json", "*.uids.npy"):
        local = files(tmp_path / "reshard-local", pattern)
        assert len(local) >= 4 and on_s3(server, f"s3://{bucket}/reshard-ray", pattern) == local


def wait_for(condition: Any, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def test_a_worker_node_killed_mid_run_loses_no_shard_and_its_shards_are_reported_retried(
    cluster, s3, tmp_path, capsys, caplog
) -> None:
    server, bucket = s3
    pool = write_pool(tmp_path / "pool", SynthConfig(shards=6, rows_per_shard=100, dim=16))
    gate = tmp_path / "gate"
    scorer = ["--scorer", f"gated_clip:gate={gate}", "--plugin", GATED]
    local = tmp_path / "local"
    gate.touch()  # the reference run never waits
    assert main(["-q", "score", str(pool), "-o", str(local), *scorer]) == 0
    gate.unlink()
    capsys.readouterr()  # the reference run's summary
    started = Path(f"{gate}.started")
    for held in started.iterdir():
        held.unlink()

    out = f"s3://{bucket}/ray"
    argv = ["score", str(pool), "-o", out, *scorer, "--json"]
    argv += ["--engine", "ray", "--actors", str(ACTORS), "--retries", "2"]
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(main(argv)), daemon=True)
    with caplog.at_level(logging.WARNING, logger="pairsift.stages.base"):
        runner.start()
        try:
            holding = lambda: started.is_dir() and len(list(started.iterdir())) >= ACTORS  # noqa: E731
            wait_for(holding, "every actor to hold a shard")
            victim = sorted(cluster.worker_nodes, key=lambda n: n.unique_id)[0]
            cluster.remove_node(victim, allow_graceful=False)  # its raylet and its actors die at once
            wait_for(lambda: alive_nodes() == 2, "the head to notice the lost node")
            # a node joins in its place, as an autoscaler would add one
            cluster.add_node(num_cpus=WORKER_CPUS, temp_dir=str(NODES[0] / "replacement"))
        finally:
            gate.touch()  # whatever happened, the held shards go on and the run ends
            runner.join(timeout=180)
    assert not runner.is_alive(), "the run did not finish after the lost node was replaced"
    printed = capsys.readouterr().out  # Ray's own "(raylet) ..." lines may come before the JSON
    start = 0 if printed.startswith("{\n") else printed.index("\n{\n") + 1
    summary, _ = json.JSONDecoder().raw_decode(printed[start:])  # and may come after it
    assert codes == [0], summary["failures"]
    assert on_s3(server, f"{out}/scores") == files(local / "scores")  # no shard lost, the same bytes
    retried = summary["retried"]
    assert len(retried) == WORKER_CPUS  # the two shards the lost node's actors held, started twice
    assert set(retried.values()) == {2}
    logged = {r.getMessage() for r in caplog.records if "was retried" in r.getMessage()}
    assert logged == {f"shard {shard} was retried: 2 attempts" for shard in retried}
