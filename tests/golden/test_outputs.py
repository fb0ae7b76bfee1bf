"""Every output of the data path is byte-identical to the hashes recorded before the layout change."""

from __future__ import annotations

import json

from tests.golden.pipeline import HASHES, run_pipeline


def test_outputs_match_the_recorded_hashes(tmp_path, capsys):
    found = run_pipeline(tmp_path)
    capsys.readouterr()
    expected = json.loads(HASHES.read_text())
    assert sorted(found) == sorted(expected)
    differ = sorted(name for name in expected if found[name] != expected[name])
    assert not differ, f"outputs differ from tests/golden/hashes.json: {differ}"
