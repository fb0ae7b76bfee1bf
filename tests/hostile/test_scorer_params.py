"""Issue 16: a misspelled scorer parameter names the valid ones."""

from __future__ import annotations

import pytest

from pairsift.cli import main
from pairsift.scorers import build_scorer


def test_misspelled_parameter_lists_the_valid_names():
    with pytest.raises(ValueError) as caught:
        build_scorer("neg_clip_loss", {"kk": 3})
    message = str(caught.value)
    assert "'neg_clip_loss'" in message and "unknown parameter 'kk'" in message
    for name in ("batch_size", "k", "tau", "seed", "remainder", "name"):
        assert name in message
    assert "__init__()" not in message  # not Python's own TypeError text


def test_several_unknown_parameters_are_all_named():
    with pytest.raises(ValueError, match=r"unknown parameters 'a', 'b'; valid parameters: name"):
        build_scorer("clip_score", {"b": 1, "a": 2})


def test_valid_parameters_still_build():
    scorer = build_scorer("neg_clip_loss", {"k": 3, "name": "n3"})
    assert scorer.column == "n3"


def test_cli_reports_one_error_naming_the_valid_parameters(make_pool, tmp_path, caplog):
    run = tmp_path / "run"
    code = main(["-q", "score", str(make_pool()), "-o", str(run), "--scorer", "neg_clip_loss:kk=3"])
    assert code == 2
    (error,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "unknown parameter 'kk'" in error and "batch_size" in error and "remainder" in error
