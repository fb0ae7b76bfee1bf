"""Issue 16 and 14: selection on hostile runs (top-n beyond the valid rows, DataComp's threshold edge
cases, unfinished runs, a kill between the subset file and its record)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pairsift.cli import main
from pairsift.errors import InputError
from pairsift.io.subsets import read_subset
from pairsift.select.selection import SelectConfig, select
from pairsift.stages.score import score
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec
from pairsift.uids import to_hex
from tests import pools
from tests.select.helpers import make_run


def selected(run, tmp_path, *rules, name="out.npy", **options):
    config = SelectConfig(rules=tuple(rules), output=str(tmp_path / name), **options)
    result = select(run, config)
    return result, Counter(to_hex(read_subset(config.output)))


# --- --top-n beyond the valid rows -------------------------------------------------------------
@pytest.mark.parametrize("budget", [1 << 30, 1])  # in memory, streaming
def test_top_n_larger_than_the_valid_rows_is_refused_with_the_numbers(tmp_path, budget):
    values = np.array([0.3, np.nan, 0.9, 0.1, np.nan, 0.5], np.float32)
    run, _ = make_run(tmp_path / "run", {"s": [values[:3], values[3:]]})
    with pytest.raises(InputError, match=r"--top-n s=5: only 4 rows are available .* at most 4"):
        selected(run, tmp_path, ("top-n", "s=5"), memory_budget=budget)
    assert not (tmp_path / "out.npy").exists()
    result, got = selected(run, tmp_path, ("top-n", "s=4"), memory_budget=budget)  # exactly the valid rows
    assert result.kept == 4 == sum(got.values())


def test_top_n_counts_rows_still_kept_after_earlier_rules(tmp_path):
    values = np.arange(10, dtype=np.float32)
    run, _ = make_run(tmp_path / "run", {"s": [values]})
    with pytest.raises(InputError, match=r"s=4: only 3 rows are available"):
        selected(run, tmp_path, ("threshold", "s>=7"), ("top-n", "s=4"))


# --- --datacomp-threshold against a slow reference of DataComp's rule --------------------------
def datacomp_reference(values: np.ndarray, uids: np.ndarray, fraction: float) -> Counter[str]:
    """baselines/apply_filter.py: ``n = int(len(x) · f); t = -np.sort(-x)[n]``; keep ``x >= t``."""
    threshold = -np.sort(-values)[int(len(values) * fraction)]
    return Counter(str(u) for u, v in zip(uids, values, strict=True) if v >= threshold)


def hostile_pool(seed: int) -> tuple[list[np.ndarray], list[list[str]]]:
    """1-4 shards of few rows: integer values (many ties), ~15 % NaN, uids drawn from 40 (duplicates,
    within and across shards), a shard with a uid listed twice in a row."""
    rng = np.random.default_rng(seed)
    names = [f"{int(i):032x}" for i in rng.integers(1, 2**60, size=40)]
    values, uids = [], []
    for _ in range(int(rng.integers(1, 5))):
        n = int(rng.integers(1, 15))
        v = np.round(rng.standard_normal(n) * 2).astype(np.float32)
        v[rng.random(n) < 0.15] = np.nan
        u = list(rng.choice(names, n))
        if n > 1:
            u[1] = u[0]  # one uid listed twice in one shard
        values.append(v)
        uids.append(u)
    return values, uids


@pytest.mark.parametrize("budget", [1 << 30, 1])  # in memory, streaming
def test_datacomp_threshold_matches_datacomp_on_duplicates_ties_and_nan(tmp_path, budget):
    compared = refused = 0
    for seed in range(30):
        values, uids = hostile_pool(seed)
        run, _ = make_run(tmp_path / f"run{seed}", {"s": values}, uids=uids)
        x, u = np.concatenate(values), np.concatenate([np.asarray(x, object) for x in uids])
        finite = int(np.isfinite(x).sum())
        for fraction in (0.1, 0.25, 0.5, 0.7, 0.9, 1.0):
            options = {"datacomp_threshold": True, "memory_budget": budget}
            if int(len(x) * fraction) >= finite:  # DataComp: a NaN threshold (keeps nothing) or IndexError
                with pytest.raises(InputError, match="datacomp-threshold"):
                    selected(run, tmp_path, ("top", f"s={fraction}"), **options)
                refused += 1
                continue
            result, got = selected(run, tmp_path, ("top", f"s={fraction}"), **options)
            want = datacomp_reference(x, u, fraction)  # the rows DataComp keeps; each uid written once
            assert got == Counter(dict.fromkeys(want, 1)), (seed, fraction)
            assert result.kept == len(want) and result.repeated_uids == sum(want.values()) - len(want)
            compared += 1
    assert compared > 75 and refused > 10


def test_datacomp_threshold_counts_a_uid_listed_twice_as_two_rows(tmp_path):
    values = [np.array([5, 4, 3, 2, 1, 0], np.float32)]
    uids = [["a" * 32, "a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32]]  # "a" listed twice, on top
    run, _ = make_run(tmp_path / "run", {"s": values}, uids=uids)
    result, got = selected(run, tmp_path, ("top", "s=0.5"), datacomp_threshold=True)
    # N = 6 rows, position int(6 · 0.5) = 3: t = 2, keep 5 4 3 2 -> a, a, b, c; "a" is written once
    assert got == Counter({"a" * 32: 1, "b" * 32: 1, "c" * 32: 1}) and result.repeated_uids == 1
    assert set(got) == set(datacomp_reference(values[0], np.asarray(uids[0]), 0.5))


def test_datacomp_threshold_position_on_a_nan_row_is_refused_naming_it(tmp_path):
    values = [np.array([0.9, 0.8, np.nan, np.nan], np.float32)]
    run, _ = make_run(tmp_path / "run", {"s": values})
    with pytest.raises(InputError, match=r"position int\(4 · 0.5\) = 2 .* NaN .* keep nothing"):
        selected(run, tmp_path, ("top", "s=0.5"), datacomp_threshold=True)
    with pytest.raises(InputError, match="IndexError"):
        selected(run, tmp_path, ("top", "s=1"), datacomp_threshold=True)
    _, got = selected(run, tmp_path, ("top", "s=0.25"), datacomp_threshold=True)  # position 1: t = 0.8
    assert sum(got.values()) == 2


# --- selecting from an unfinished run ------------------------------------------------------------
@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 12-shard pool and a finished run over it, made once: ``(pool, run)``."""
    root = tmp_path_factory.mktemp("scored")
    pool = pools.make_pool(root / "pool", shards=12, rows=8)
    config = ScoreConfig(
        pool=str(pool),
        output=str(root / "run"),
        scorers=(ScorerSpec("clip_score"),),
        compute=ComputeConfig(device="cpu"),
    )
    assert score(config).ok
    return pool, root / "run"


@pytest.fixture
def unfinished(scored, tmp_path) -> Path:
    """A copy of the run with 5 of its 12 score tables gone (7 scored)."""
    run = tmp_path / "run"
    shutil.copytree(scored[1], run)
    for shard in (1, 4, 5, 9, 10, 11)[:5]:
        (run / "scores" / f"{shard:08d}.parquet").unlink()
    return run


def test_select_on_an_unfinished_run_is_refused_naming_the_missing_shards(unfinished, tmp_path):
    config = SelectConfig(rules=(("top", "clip_score=0.5"),), output=str(tmp_path / "s.npy"))
    with pytest.raises(InputError) as caught:
        select(unfinished, config)
    message = str(caught.value)
    assert "5 of the pool's 12 shards have no score table" in message
    assert "00000001, 00000004, 00000005, 00000009, 00000010" in message
    assert "--allow-partial" in message
    assert not (tmp_path / "s.npy").exists()


def test_allow_partial_selects_and_the_record_says_so(unfinished, scored, tmp_path):
    partial = SelectConfig(
        rules=(("top", "clip_score=0.5"),), output=str(tmp_path / "p.npy"), allow_partial=True
    )
    result = select(unfinished, partial)
    assert result.pool == 7 * 8 and result.kept == 28
    record = json.loads((tmp_path / "p.npy.json").read_text())
    assert record["partial"] is True and record["missing_shards"] == 5 and record["pool_shards"] == 12
    full = select(scored[1], SelectConfig(rules=(("top", "clip_score=0.5"),), output=str(tmp_path / "f.npy")))
    record = json.loads((tmp_path / "f.npy.json").read_text())
    assert not full.partial and record["partial"] is False and record["missing_shards"] == 0


def test_an_unreachable_pool_is_refused_unless_allow_partial(scored, tmp_path):
    _, finished = scored
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    manifest = json.loads((run / "run.json").read_text())
    manifest["config"]["pool"] = str(tmp_path / "moved-away")
    (run / "run.json").write_text(json.dumps(manifest))
    rules = (("top", "clip_score=0.5"),)
    with pytest.raises(InputError, match=r"cannot check .*moved-away.* cannot be listed.*--allow-partial"):
        select(run, SelectConfig(rules=rules, output=str(tmp_path / "s.npy")))
    result = select(run, SelectConfig(rules=rules, output=str(tmp_path / "s.npy"), allow_partial=True))
    record = json.loads((tmp_path / "s.npy.json").read_text())
    assert result.partial and record["partial"] is True and record["missing_shards"] is None


def test_cli_flag_and_recipe_key(unfinished, tmp_path, caplog):
    out = str(tmp_path / "s.npy")
    assert main(["-q", "select", str(unfinished), "-o", out, "--top", "clip_score=0.5"]) == 2
    assert any("5 of the pool's 12 shards" in r.getMessage() for r in caplog.records)
    assert (
        main(["-q", "select", str(unfinished), "-o", out, "--top", "clip_score=0.5", "--allow-partial"]) == 0
    )
    assert json.loads(Path(out + ".json").read_text())["partial"] is True
    config = SelectConfig.from_dict({"rules": [{"top": "clip_score=0.5"}], "allow_partial": True}, output=out)
    assert config.allow_partial and select(unfinished, config).partial


# --- a kill between the subset file and its record -----------------------------------------------
KILLER = """
import os, signal, sys
from pairsift.select import record
from pairsift.select.selection import SelectConfig, select
run, output, rule, point = sys.argv[1:]
def die():
    os.kill(os.getpid(), signal.SIGKILL)
if point == "record-temporary":  # half-way through writing the record's temporary
    real = record.write_temporary
    def write_temporary(path, write):
        def killed(fh):
            fh.write(b'{"half": ')
            fh.flush()
            die()
        return real(path, killed if str(path).endswith(".json") else write)
    record.write_temporary = write_temporary
else:  # between the two renames (publish: a rename locally): the subset is in place, its record not yet
    real_publish = record.publish
    def publish(src, dst):
        if str(dst).endswith(".json"):
            die()
        real_publish(src, dst)
    record.publish = publish
select(run, SelectConfig(rules=(("top", rule),), output=output))
"""


def recorded_kept(output: Path) -> int | None:
    """``kept`` of the record beside ``output``; None when there is no record."""
    path = Path(str(output) + ".json")
    return json.loads(path.read_text())["kept"] if path.exists() else None


def test_a_kill_between_subset_and_record_never_leaves_a_record_that_lies(tmp_path):
    import subprocess
    import sys

    values = np.arange(100, dtype=np.float32)
    run, _ = make_run(tmp_path / "run", {"s": [values[:50], values[50:]]})
    out = tmp_path / "subsets" / "s.npy"
    select(run, SelectConfig(rules=(("top", "s=0.5"),), output=str(out)))
    assert recorded_kept(out) == 50 == len(read_subset(out))

    def kill(point: str) -> None:
        argv = [sys.executable, "-c", KILLER, str(run), str(out), "s=0.1", point]
        child = subprocess.run(argv, check=False)
        assert child.returncode == -9

    kill("record-temporary")  # both are written to temporaries first: the old pair is untouched
    assert len(read_subset(out)) == 50 == recorded_kept(out)
    assert list(out.parent.glob(".s.npy.json.*.tmp")) and list(out.parent.glob(".s.npy.*.tmp"))
    kill("between-renames")
    assert len(read_subset(out)) == 10  # the new subset is in place ...
    assert recorded_kept(out) is None  # ... without a record, rather than beside the old one (kept 50)
    assert list(out.parent.glob(".s.npy.json.*.tmp"))  # the record's temporary, never renamed

    result = select(run, SelectConfig(rules=(("top", "s=0.1"),), output=str(out)))
    assert recorded_kept(out) == 10 == result.kept
    assert sorted(p.name for p in out.parent.iterdir()) == ["s.npy", "s.npy.json"]  # temporaries swept


def test_a_record_beside_another_subset_is_detected(tmp_path):
    from pairsift.select.record import read_record

    run, _ = make_run(tmp_path / "run", {"s": [np.arange(20, dtype=np.float32)]})
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    select(run, SelectConfig(rules=(("top", "s=0.5"),), output=str(a)))
    select(run, SelectConfig(rules=(("top", "s=0.2"),), output=str(b)))
    b.replace(a)  # a's record now sits beside b's subset
    with pytest.raises(InputError, match=r"a\.npy\.json does not describe .*a\.npy.*rerun"):
        read_record(a)
