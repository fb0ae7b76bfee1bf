"""``pairsift uids`` through argparse: output, --json, exit codes, argument checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from pairsift.cli import uids
from pairsift.errors import InputError
from pairsift.uids import from_hex, to_hex

A = "0" * 31 + "1"
B = "00000000000000010000000000000000"
C = "ffffffffffffffffffffffffffffffff"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="pairsift")
    uids.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["uids", *argv])
    return int(args.func(args))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.sort(from_hex([A, B, B, C])))
    np.save(b, np.sort(from_hex([B, C, C])))
    return a, b


def test_info_json(files, capsys):
    a, b = files
    assert run("info", str(a), str(b), "--json") == 0
    reports = json.loads(capsys.readouterr().out)
    assert [(r["count"], r["distinct"], r["duplicated"], r["extra_copies"]) for r in reports] == [
        (4, 3, 1, 1),
        (3, 2, 1, 1),
    ]
    assert reports[0]["first_uid"] == A and reports[0]["last_uid"] == C


def test_info_text(files, capsys):
    assert run("info", str(files[0])) == 0
    out = capsys.readouterr().out
    assert "rows:       4" in out and "sorted:     yes" in out and f"first uid:  {A}" in out


def test_convert(files, tmp_path, capsys):
    assert run("convert", str(files[0]), str(tmp_path / "a.txt")) == 0
    assert "4 uids" in capsys.readouterr().out
    assert (tmp_path / "a.txt").read_text().splitlines() == [A, B, B, C]


@pytest.mark.parametrize(
    ("operation", "expected"),
    [("intersect", [B, C]), ("union", [A, B, B, C, C]), ("diff", [A, B])],
)
def test_set_operations(files, tmp_path, capsys, operation, expected):
    out = tmp_path / f"{operation}.npy"
    assert run(operation, str(files[0]), str(files[1]), "-o", str(out), "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == len(expected) and result["input_counts"] == [4, 3]
    assert list(to_hex(np.load(out))) == expected


def test_set_operation_needs_two_inputs_and_an_output(files):
    with pytest.raises(SystemExit):
        run("union", str(files[0]), "-o", "out.npy")
    with pytest.raises(SystemExit):
        run("union", str(files[0]), str(files[1]))


def test_user_errors_are_input_errors(tmp_path):
    (tmp_path / "bad.txt").write_text("zz\n")
    with pytest.raises(InputError, match=r"bad\.txt: line 1"):
        run("convert", str(tmp_path / "bad.txt"), str(tmp_path / "out.npy"))


def test_help_documents_multiset_semantics(capsys):
    with pytest.raises(SystemExit):
        run("diff", "--help")
    assert "collections.Counter" in capsys.readouterr().out
