"""Resharding: subset selection, byte-for-byte copies, upsampling, failures as data, resume."""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from pairsift.api import reshard
from pairsift.cli.reshard import add_parser
from pairsift.errors import InputError, RunConfigError
from pairsift.io import tars
from pairsift.io.subsets import write_subset
from pairsift.uids import from_hex

Members = list[tuple[str, bytes]]


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_600_000_000 + len(data)
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o640, 1234, 99, "alice", "crawl"
    tar.addfile(info, io.BytesIO(data))


def write_tar(path: Path, samples: list[Members]) -> Path:
    with tarfile.open(path, "w") as tar:
        for members in samples:
            for name, data in members:
                add_member(tar, name, data)
    return path


def make_sample(key: str, uid: str, rng: random.Random) -> Members:
    return [
        (f"{key}.jpg", rng.randbytes(rng.randint(20, 700))),
        (f"{key}.txt", f"caption of {key}".encode()),
        (f"{key}.json", json.dumps({"uid": uid, "key": key}).encode()),
    ]


@pytest.fixture
def pool(tmp_path: Path) -> tuple[Path, dict[str, list[str]], dict[str, list[Members]]]:
    """Three tars of six samples: ``(directory, uids by stem, samples by stem)``."""
    rng = random.Random(0)
    root = tmp_path / "tars"
    root.mkdir()
    uids: dict[str, list[str]] = {}
    samples: dict[str, list[Members]] = {}
    for s in range(3):
        stem = f"{s:05d}"
        uids[stem] = [f"{rng.getrandbits(128):032x}" for _ in range(6)]
        samples[stem] = [make_sample(f"{stem}{i:04d}", u, rng) for i, u in enumerate(uids[stem])]
        write_tar(root / f"{stem}.tar", samples[stem])
    return root, uids, samples


def subset_file(path: Path, uids: list[str]) -> str:
    write_subset(path, from_hex(uids))
    return str(path)


def read_members(path: Path) -> Members:
    with tarfile.open(path) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]


def outputs(out: Path, stem: str) -> Members:
    return [m for p in sorted(out.glob(f"{stem}-*.tar")) for m in read_members(p)]


def result_files(out: Path) -> dict[str, bytes]:
    """Everything a run leaves that does not name its own directory."""
    found = sorted(out.glob("*.tar")) + sorted(out.glob("*.stats.json")) + sorted(out.glob("*.uids.npy"))
    return {str(p.relative_to(out)): p.read_bytes() for p in found}


def test_keeps_subset_samples_byte_for_byte(pool, tmp_path):
    root, uids, samples = pool
    wanted = {"00000": [0, 3, 5], "00001": [], "00002": [1, 2]}
    subset = subset_file(tmp_path / "s.npy", [uids[s][i] for s, rows in wanted.items() for i in rows])
    summary = reshard(str(root), subset, str(tmp_path / "out"))
    out = tmp_path / "out"
    for stem, rows in wanted.items():
        assert outputs(out, stem) == [m for i in rows for m in samples[stem][i]]
    assert sorted(p.name for p in out.glob("*.tar")) == ["00000-000000.tar", "00002-000000.tar"]
    assert (summary.input_samples, summary.kept_samples, summary.written_samples) == (18, 5, 5)
    assert (summary.found_uids, summary.missing_uids, summary.tars) == (5, 0, 2)
    assert summary.ok and summary.processed == 3 and summary.skipped == 0
    stats = json.loads((out / "00002.stats.json").read_text())
    assert (
        stats["input_samples"] == 6 and stats["kept_samples"] == 2 and stats["tars"] == ["00002-000000.tar"]
    )
    found = np.load(out / "00002.uids.npy")
    assert found.dtype == np.dtype("u8,u8") and sorted(found.tolist()) == sorted(
        from_hex([uids["00002"][1], uids["00002"][2]]).tolist()
    )
    assert json.loads((out / "summary.json").read_text())["kept_samples"] == 5


def test_tar_headers_are_copied(pool, tmp_path):
    root, uids, _ = pool
    reshard(str(root), subset_file(tmp_path / "s.npy", uids["00001"][:2]), str(tmp_path / "out"))
    with tarfile.open(root / "00001.tar") as src, tarfile.open(tmp_path / "out" / "00001-000000.tar") as dst:
        fields = ("name", "size", "mtime", "mode", "uid", "gid", "uname", "gname", "type")
        assert [[getattr(m, f) for f in fields] for m in dst.getmembers()] == [
            [getattr(m, f) for f in fields] for m in src.getmembers()[:6]
        ]


def test_duplicates_in_the_subset_upsample(pool, tmp_path):
    root, uids, samples = pool
    subset = subset_file(
        tmp_path / "s.npy", [uids["00000"][1], uids["00000"][1], uids["00000"][1], uids["00000"][4]]
    )
    summary = reshard(str(root), subset, str(tmp_path / "out"))
    key = "000000001"
    copies = [
        [(n.replace(key, key + suffix, 1), d) for n, d in samples["00000"][1]]
        for suffix in ("", "_dup1", "_dup2")
    ]
    assert outputs(tmp_path / "out", "00000") == [m for c in copies for m in c] + samples["00000"][4]
    assert (summary.kept_samples, summary.written_samples, summary.duplicates_written) == (2, 4, 2)
    assert (summary.subset_rows, summary.subset_uids, summary.found_uids) == (4, 2, 2)


def test_renamed_copies_drop_the_pax_path_record(tmp_path):
    key = "deep/" + "d" * 120 + "/000001"  # longer than a ustar name: stored as a pax "path" record
    uid = "ab" * 16
    root = tmp_path / "tars"
    root.mkdir()
    write_tar(root / "long.tar", [make_sample(key, uid, random.Random(1))])
    reshard(str(root), subset_file(tmp_path / "s.npy", [uid, uid]), str(tmp_path / "out"))
    names = [n for n, _ in outputs(tmp_path / "out", "long")]
    assert names == [f"{key}{s}.{e}" for s in ("", "_dup1") for e in ("jpg", "txt", "json")]


def test_shard_size_splits_output(pool, tmp_path):
    root, uids, samples = pool
    subset = subset_file(tmp_path / "s.npy", uids["00002"][:5])
    summary = reshard(str(root), subset, str(tmp_path / "out"), shard_size=2)
    tar_names = sorted(p.name for p in (tmp_path / "out").glob("*.tar"))
    assert tar_names == ["00002-000000.tar", "00002-000001.tar", "00002-000002.tar"]
    counts = [len(read_members(tmp_path / "out" / n)) // 3 for n in tar_names]
    assert counts == [2, 2, 1] and summary.tars == 3
    assert outputs(tmp_path / "out", "00002") == [m for s in samples["00002"][:5] for m in s]


def test_missing_uids_are_reported(pool, tmp_path):
    root, uids, _ = pool
    absent = sorted(f"{i:032x}" for i in (7, 3, 3, 11))  # 3 listed twice: one distinct uid
    summary = reshard(
        str(root), subset_file(tmp_path / "s.npy", [uids["00000"][0], *absent]), str(tmp_path / "o")
    )
    assert (summary.subset_rows, summary.subset_uids, summary.found_uids, summary.missing_uids) == (
        5,
        4,
        1,
        3,
    )
    assert summary.missing_examples == [f"{i:032x}" for i in (3, 7, 11)]


def test_samples_without_uid_get_derived_uids_and_are_counted(tmp_path):
    rng = random.Random(2)
    good = "0f" * 16
    broken = {
        "a": [("a.jpg", b"x")],
        "b": [("b.jpg", b"x"), ("b.json", b"{not json")],
        "c": [("c.jpg", b"x"), ("c.json", b'{"url": "u"}')],
        "d": [("d.jpg", b"x"), ("d.json", b'{"uid": "xyz"}')],
        "e": [("e.jpg", b"x"), ("e.json", b"[1, 2]")],
        "f": [("f.jpg", b"x"), ("f.json", b'{"uid": 12}')],
    }
    root = tmp_path / "tars"
    root.mkdir()
    write_tar(root / "mixed.tar", [*broken.values(), make_sample("g", good, rng)])
    summary = reshard(str(root), subset_file(tmp_path / "s.npy", [good]), str(tmp_path / "out"))
    assert summary.ok and summary.kept_samples == 1 and summary.input_samples == 7
    assert (
        summary.derived_uid == 6
    )  # their uids are derived, as embed derives them (tests/hostile/test_uid_rule.py)
    assert summary.derived_uid_reasons == {"no_json": 1, "malformed_json": 2, "no_uid": 1, "malformed_uid": 2}
    assert [e["key"] for e in summary.derived_uid_examples] == list("abcdef")
    assert summary.derived_uid_examples[0] == {"shard": "mixed", "key": "a", "reason": "no_json"}


def damage(path: Path, how: str) -> None:
    with tarfile.open(path) as tar:
        third = tar.getmembers()[2]
    data = path.read_bytes()
    if how == "truncated_in_data":
        data = data[: third.offset_data + 5]
    elif how == "truncated_at_header":
        data = data[: third.offset]
    else:
        data = data[: third.offset] + b"\x07" * 512 + data[third.offset + 512 :]
    path.write_bytes(data)


@pytest.mark.parametrize("how", ["truncated_in_data", "truncated_at_header", "garbage_header"])
def test_corrupt_tar_fails_its_shard_only(how, pool, tmp_path, capsys):
    root, uids, samples = pool
    damage(root / "00001.tar", how)
    subset = subset_file(tmp_path / "s.npy", [u for stem in uids.values() for u in stem])
    out = tmp_path / "out"
    rc, summary = run_cli(["--input", str(root), "--subset", subset, "-o", str(out), "--json"])
    assert rc == 1
    assert [f["shard"] for f in summary["failures"]] == ["00001"]
    assert str(root / "00001.tar") in summary["failures"][0]["error"]
    assert not list(out.glob("00001*")) and not (out / "00001.stats.json").exists()
    assert not list(out.rglob("*.tmp"))
    for stem in ("00000", "00002"):
        assert outputs(out, stem) == [m for s in samples[stem] for m in s]
    printed = json.loads(capsys.readouterr().out)
    assert printed["failures"][0]["shard"] == "00001" and printed["kept_samples"] == 12


def run_cli(argv: list[str]) -> tuple[int, dict]:
    """Run the subcommand as the CLI would; returns the exit code and summary.json."""
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["reshard", *argv])
    rc = args.func(args)
    return rc, json.loads(Path(args.output, "summary.json").read_text())


def test_printed_summary(pool, tmp_path, capsys):
    root, uids, _ = pool
    rc, _ = run_cli(
        [
            "--input",
            str(root),
            "--subset",
            subset_file(tmp_path / "s.npy", uids["00000"][:1]),
            "-o",
            str(tmp_path / "o"),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0 and "18 read, 1 kept, 1 written" in text and "FAILED" not in text


@pytest.fixture
def clean_run(pool, tmp_path) -> tuple[str, str, dict[str, bytes]]:
    root, uids, _ = pool
    picked = [u for stem in uids.values() for u in stem[::2]] + [uids["00001"][2]]
    subset = subset_file(tmp_path / "s.npy", picked)
    reshard(str(root), subset, str(tmp_path / "clean"), shard_size=2)
    return str(root), subset, result_files(tmp_path / "clean")


def mtimes(out: Path, stem: str) -> dict[str, int]:
    paths = [*out.glob(f"{stem}-*.tar"), *out.glob(f"{stem}.*.*")]
    return {p.name: p.stat().st_mtime_ns for p in paths}


def test_rerun_after_a_failed_shard_resumes(clean_run, tmp_path, monkeypatch):
    root, subset, clean = clean_run
    out = tmp_path / "run"
    real_add = tars.TarSink.add
    calls = {"n": 0}

    def flaky(self: tars.TarSink, members: list[tars.Member]) -> None:
        if self.stem == "00001":
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError("disk hiccup")
        real_add(self, members)

    monkeypatch.setattr(tars.TarSink, "add", flaky)
    first = reshard(root, subset, str(out), shard_size=2)
    assert [f.shard for f in first.failures] == ["00001"] and "disk hiccup" in first.failures[0].error
    assert not list(out.glob("00001-*")) and not list(out.rglob("*.tmp"))
    before = {stem: mtimes(out, stem) for stem in ("00000", "00002")}
    monkeypatch.setattr(tars.TarSink, "add", real_add)
    second = reshard(root, subset, str(out), shard_size=2)
    assert second.ok and (second.processed, second.skipped) == (1, 2)
    assert result_files(out) == clean
    assert {stem: mtimes(out, stem) for stem in ("00000", "00002")} == before


KILLER = """
import os, signal, sys
import pairsift.stages.reshard as r
from pairsift.io import tars
input, subset, output, where = sys.argv[1:]
real_add, real_write = tars.TarSink.add, r.write_subset
def add(self, members):
    real_add(self, members)
    if where == "mid_tar" and self.stem == "00001":
        os.kill(os.getpid(), signal.SIGKILL)
def write_subset(path, keys):
    if where == "before_marker" and path.name.startswith("00001"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_write(path, keys)
tars.TarSink.add, r.write_subset = add, write_subset
r.reshard(r.ReshardConfig(input, subset, output, shard_size=2))
"""


@pytest.mark.parametrize("where", ["mid_tar", "before_marker"])
def test_rerun_after_sigkill_is_byte_identical(where, clean_run, tmp_path):
    root, subset, clean = clean_run
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", KILLER, root, subset, str(out), where])
    assert proc.returncode == -9
    assert (out / "00000.stats.json").exists() and not (out / "00001.stats.json").exists()
    if where == "mid_tar":
        assert list(out.glob(".00001-000000.tar.*.tmp")) and not list(out.glob("00001-*.tar"))
    else:
        assert list(out.glob("00001-*.tar"))  # renamed into place, but the shard is not marked done
    (out / "00001-000009.tar").write_bytes(b"stale output of an older attempt")
    before = mtimes(out, "00000")
    summary = reshard(root, subset, str(out), shard_size=2)
    assert summary.ok and (summary.processed, summary.skipped) == (2, 1)
    assert result_files(out) == clean
    assert mtimes(out, "00000") == before
    assert not list(out.rglob("*.tmp"))


def test_runs_are_deterministic_across_workers(clean_run, tmp_path):
    root, subset, clean = clean_run
    reshard(root, subset, str(tmp_path / "parallel"), shard_size=2, workers=2)
    assert result_files(tmp_path / "parallel") == clean


def test_rerun_with_another_subset_is_refused(pool, tmp_path):
    root, uids, _ = pool
    reshard(str(root), subset_file(tmp_path / "a.npy", uids["00000"][:1]), str(tmp_path / "o"))
    with pytest.raises(RunConfigError, match="another subset"):
        reshard(str(root), subset_file(tmp_path / "b.npy", uids["00000"][:2]), str(tmp_path / "o"))
    with pytest.raises(RunConfigError):
        reshard(str(root), str(tmp_path / "a.npy"), str(tmp_path / "o"), shard_size=3)


def test_glob_input_and_input_errors(pool, tmp_path):
    root, uids, _ = pool
    subset = subset_file(tmp_path / "s.npy", [uids["00002"][0]])
    summary = reshard(str(root / "0000[12].tar"), subset, str(tmp_path / "o"))
    assert summary.shards == 2 and summary.kept_samples == 1
    with pytest.raises(InputError, match=r"no \.tar files"):
        (tmp_path / "empty").mkdir()
        reshard(str(tmp_path / "empty"), subset, str(tmp_path / "p"))
    (tmp_path / "other").mkdir()
    write_tar(tmp_path / "other" / "00000.tar", [])
    with pytest.raises(InputError, match="same name"):
        reshard(str(tmp_path / "*" / "00000.tar"), subset, str(tmp_path / "p"))
    with pytest.raises(InputError, match="directory of the input"):
        reshard(str(root), subset, str(root))


def test_reads_tars_through_fsspec(pool, tmp_path, memfs):
    root, uids, samples = pool
    fs, mem = memfs
    fs.pipe(f"{mem}/00002.tar", (root / "00002.tar").read_bytes())
    subset = subset_file(tmp_path / "s.npy", uids["00002"][3:5])
    summary = reshard(f"memory://{mem}", subset, str(tmp_path / "o"))
    assert summary.ok and summary.kept_samples == 2
    assert outputs(tmp_path / "o", "00002") == [m for s in samples["00002"][3:5] for m in s]
