"""Issue 16 (5): a uid repeated across shards (or inside one) is marked ``duplicate_uid`` pool-wide, with
NaN scores, the same with 1 or 2 workers; ``select`` never writes a uid twice."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.data import DUPLICATE_UID, OK
from pairsift.engines import EngineConfig
from pairsift.io.duplicate_uids import bucket_bits, mark_duplicates
from pairsift.io.subsets import read_subset
from pairsift.select.selection import SelectConfig, select
from pairsift.stages.score import score
from pairsift.stages.score_config import ScoreConfig, ScorerSpec
from pairsift.uids import to_hex
from tests import pools
from tests.select.helpers import make_run

ROWS = 12


def duplicated_pool(root: Path) -> tuple[Path, list[list[str]]]:
    """Three shards; shard 1 repeats two uids of shard 0 and one of its own, shard 2 one of each."""
    pool = pools.make_pool(root, shards=3, rows=ROWS)
    uids = [pools.read_uids(pool / f"{i:08d}.parquet") for i in range(3)]
    uids[1][3], uids[1][7] = uids[0][5], uids[0][0]  # across shards
    uids[1][9] = uids[1][2]  # inside a shard
    uids[2][0], uids[2][4] = uids[0][5], uids[1][2]  # a third copy; a copy of a copy
    uids[2][6] = "not-a-uid"  # malformed: never a duplicate
    uids[2][8] = "not-a-uid"
    for i, shard in enumerate(uids):
        pq.write_table(pools.metadata_table(shard), pool / f"{i:08d}.parquet")
    return pool, uids


#: (shard, row) of every occurrence after the first, by shard then row
EXPECTED = {(1, 3), (1, 7), (1, 9), (2, 0), (2, 4)}


def statuses(run: Path) -> dict[tuple[int, int], str]:
    out = {}
    for i in range(3):
        table = pq.read_table(run / "scores" / f"{i:08d}.parquet")
        for row, status in enumerate(table.column("status").to_pylist()):
            out[(i, row)] = status
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_repeated_uids_are_marked_pool_wide_and_never_selected_twice(tmp_path, workers):
    pool, uids = duplicated_pool(tmp_path / "pool")
    run = tmp_path / "run"
    config = ScoreConfig(
        pool=str(pool),
        output=str(run),
        scorers=(ScorerSpec("clip_score"),),
        engine=EngineConfig(workers=workers),
    )
    summary = score(config)
    assert summary.ok
    found = statuses(run)
    assert {k for k, v in found.items() if v == DUPLICATE_UID} == EXPECTED
    assert found[(0, 5)] == found[(0, 0)] == found[(1, 2)] == OK  # the first occurrences keep their scores
    assert summary.statuses[DUPLICATE_UID] == len(EXPECTED)
    for shard, row in EXPECTED:
        table = pq.read_table(run / "scores" / f"{shard:08d}.parquet")
        assert np.isnan(table.column("clip_score")[row].as_py())
    record = json.loads((run / "run.json").read_text())["duplicate_uids"]
    assert (record["rows"], record["uids"], record["checked_rows"]) == (5, 3, 3 * ROWS)
    assert summary.duplicates["rows"] == 5

    again = score(config)  # a rerun finds them marked: nothing rewritten, same record
    assert again.duplicates == record and statuses(run) == found

    out = tmp_path / "all.npy"
    select(run, SelectConfig(rules=(("top", "clip_score=1.0"),), output=str(out)))
    kept = Counter(to_hex(read_subset(out)))
    assert max(kept.values()) == 1
    assert set(kept) == {u for shard in uids for u in shard if u != "not-a-uid"}


def test_a_pass_killed_half_way_is_finished_by_the_rerun(tmp_path):
    pool, _ = duplicated_pool(tmp_path / "pool")
    run = tmp_path / "run"
    config = ScoreConfig(pool=str(pool), output=str(run), scorers=(ScorerSpec("clip_score"),))
    score(config)
    tables = [run / "scores" / f"{i:08d}.parquet" for i in range(3)]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    half = fresh / "00000002.parquet"  # as if the pass died after rewriting shard 1 but not shard 2
    status = pq.read_table(tables[2]).column("status").to_pylist()
    status[0] = status[4] = OK
    table = pq.read_table(tables[2])
    pq.write_table(table.set_column(1, "status", pa.array(status, pa.string())), half)
    report = mark_duplicates([tables[0], tables[1], half], tmp_path / "work")
    assert (report.rows, report.newly_marked, report.rewritten) == (5, 2, ["00000002"])
    expected = pq.read_table(tables[2]).column("status").to_pylist()
    assert pq.read_table(half).column("status").to_pylist() == expected


def test_buckets_give_the_same_answer_as_one(tmp_path):
    """Many buckets (forced by a tiny bucket size), uids that are small counters (not random)."""
    uids = [[f"{i:032x}" for i in range(40)], [f"{i:032x}" for i in range(30, 70, 2)]]
    runs = [make_run(tmp_path / f"run{k}", {"s": [np.zeros(40), np.zeros(20)]}, uids=uids)[0] for k in (0, 1)]
    tables = [[run / "scores" / f"{i:05d}.parquet" for i in (0, 1)] for run in runs]
    one = mark_duplicates(tables[0], tmp_path / "w0")
    many = mark_duplicates(tables[1], tmp_path / "w1", bucket_rows=4)
    assert many.buckets == 1 << bucket_bits(60, 4) == 16
    assert one.buckets == 1
    assert (one.rows, one.uids) == (many.rows, many.uids) == (5, 5)  # 30, 32, 34, 36, 38
    for k in (0, 1):
        assert pq.read_table(runs[k] / "scores" / "00001.parquet").column("status").to_pylist()[:6] == (
            [DUPLICATE_UID] * 5 + [OK]
        )
    assert not any((tmp_path / "w1").rglob("*.bin"))


def test_select_writes_each_uid_once_even_from_a_run_that_lists_it_twice(tmp_path):
    """A run scored before duplicates were marked (or a --restrict-only selection keeping invalid rows)."""
    uids = pools.hex_uids(5)
    run, _ = make_run(tmp_path / "run", {"s": [np.arange(5.0), np.arange(5.0)]}, uids=[uids, uids[::-1]])
    result = select(run, SelectConfig(rules=(("top", "s=1.0"),), output=str(tmp_path / "out.npy")))
    assert sorted(to_hex(read_subset(tmp_path / "out.npy"))) == sorted(uids)
    assert (result.kept, result.repeated_uids) == (5, 5)
    record = json.loads((tmp_path / "out.npy.json").read_text())
    assert record["repeated_uids"] == 5 and record["kept"] == 5
