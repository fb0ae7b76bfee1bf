from pathlib import Path

import pytest

from pairsift.engines import EngineConfig
from pairsift.engines.local import LocalEngine
from pairsift.stages.score import score
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec
from pairsift.world.synth import SynthConfig, write_pool


class Task:
    """A picklable task that fails on one shard."""

    def setup(self) -> None:
        self.ready = True

    def __call__(self, shard: str) -> str:
        assert self.ready
        if shard == "bad":
            raise RuntimeError("broken shard")
        return shard.upper()


@pytest.mark.parametrize("workers", [1, 2])
def test_failures_are_reported_and_other_shards_go_on(workers):
    outcomes = {o.shard: o for o in LocalEngine(workers).map(Task(), ["a", "bad", "c"])}
    assert outcomes["a"].result == "A" and outcomes["c"].result == "C"
    assert outcomes["bad"].result is None
    assert outcomes["bad"].failure is not None
    assert outcomes["bad"].failure.error == "RuntimeError: broken shard"


def test_worker_processes_write_the_same_bytes(tmp_path):
    pool = write_pool(tmp_path / "pool", SynthConfig(shards=3, rows_per_shard=300, dim=16))
    tables = []
    for workers in (1, 2):
        config = ScoreConfig(
            pool=str(pool),
            output=str(tmp_path / f"run{workers}"),
            scorers=(ScorerSpec("clip_score"), ScorerSpec("neg_clip_loss", {"batch_size": 128, "k": 2})),
            compute=ComputeConfig(device="cpu"),
            engine=EngineConfig(workers=workers),
        )
        assert score(config).ok
        tables.append({p.name: p.read_bytes() for p in sorted(Path(config.output, "scores").iterdir())})
    assert len(tables[0]) == 3
    assert tables[0] == tables[1]
