"""Progress: log lines with counts off a terminal, a tqdm bar on one, nothing when quiet."""

from __future__ import annotations

import dataclasses
import logging
import pickle
import re

import pytest

from pairsift import progress
from pairsift.cli import main
from pairsift.progress import TrackedShards, configure, track


@pytest.fixture(autouse=True)
def settings(monkeypatch):
    """Each test starts from the defaults and leaves them as they were."""
    saved = dataclasses.replace(progress.SETTINGS)
    yield progress.SETTINGS
    for f in dataclasses.fields(saved):
        setattr(progress.SETTINGS, f.name, getattr(saved, f.name))


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pairsift.progress"]


def test_off_a_terminal_lines_carry_counts_rate_and_eta(caplog):
    caplog.set_level(logging.INFO, logger="pairsift.progress")
    configure(enabled=True, terminal=False, interval=0)
    assert list(track(["a", "b", "c"], "scoring")) == ["a", "b", "c"]
    logged = lines(caplog)
    assert [re.match(r"scoring: (\d)/3 shards", m).group(1) for m in logged] == ["1", "2", "3", "3"]
    assert all("shards/s" in m for m in logged)
    assert "ETA" in logged[0] and "(33%)" in logged[0]
    assert "ETA" not in logged[-1] and "(100%)" in logged[-1]  # the closing line


def test_short_work_logs_nothing_at_the_default_interval(caplog):
    caplog.set_level(logging.INFO, logger="pairsift.progress")
    configure(enabled=True, terminal=False, interval=30)
    assert sum(track(range(100), "quick", unit="row")) == 4950
    assert lines(caplog) == []


def test_unknown_total_counts_without_eta(caplog):
    caplog.set_level(logging.INFO, logger="pairsift.progress")
    configure(enabled=True, terminal=False, interval=0)
    list(track(iter(range(2)), "streaming", unit="row"))
    assert lines(caplog)[0].startswith("streaming: 1 rows in ") and "ETA" not in lines(caplog)[0]


def test_quiet_shows_nothing_anywhere(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    for terminal in (False, True):
        configure(enabled=False, terminal=terminal, interval=0)
        assert list(track(range(3), "scoring")) == [0, 1, 2]
    assert lines(caplog) == []
    assert capsys.readouterr().err == ""


def test_on_a_terminal_a_bar_with_rate(monkeypatch, capsys):
    monkeypatch.setattr(progress, "BAR_DELAY", 0.0)
    configure(enabled=True, terminal=True)
    list(track(range(3), "embedding"))
    err = capsys.readouterr().err
    assert "embedding" in err and "3/3" in err and "shards/s" in err


def test_tracked_shards_show_one_display_per_pass_and_stay_a_list(caplog):
    caplog.set_level(logging.INFO, logger="pairsift.progress")
    configure(enabled=True, terminal=False, interval=0)
    shards = TrackedShards(["s0", "s1"], "pass A")
    assert [s for s in shards] == ["s0", "s1"]
    shards.desc = "pass B"
    assert [s for s in shards] == ["s0", "s1"]
    assert len(shards) == 2 and shards[1] == "s1"
    assert [m.split(":")[0] for m in lines(caplog)] == ["pass A"] * 3 + ["pass B"] * 3
    assert pickle.loads(pickle.dumps(shards)) == ["s0", "s1"]


def test_score_and_select_report_progress(make_pool, tmp_path, score_config, caplog):
    from pairsift.select.selection import SelectConfig, select
    from pairsift.stages.score import score

    caplog.set_level(logging.INFO, logger="pairsift.progress")
    configure(enabled=True, terminal=False, interval=0)
    run = tmp_path / "run"
    score(score_config(make_pool(shards=2, rows=20), run, "clip_score"))
    select(run, SelectConfig(rules=(("top", "clip_score=0.5"),), output=str(tmp_path / "s.npy")))
    logged = lines(caplog)
    assert any(m.startswith("scoring: 2/2 shards (100%)") for m in logged)
    assert any(m.startswith("selecting: top clip_score=0.5: 2/2 shards") for m in logged)
    assert any(m.startswith("selecting: writing the subset: 2/2 shards") for m in logged)


def test_cli_quiet_switches_progress_off(make_pool, tmp_path):
    configure(enabled=True)
    pool = make_pool(shards=1, rows=5)
    assert main(["-q", "score", str(pool), "-o", str(tmp_path / "run"), "--scorer", "clip_score"]) == 0
    assert progress.SETTINGS.enabled is False
