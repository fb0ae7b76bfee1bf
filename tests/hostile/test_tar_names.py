"""Issue 16, item 1: tar members with traversal names, links, devices or absurd names are refused by every
reader (a per-row status, counted) and never written; our output tars extract inside their target."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pairsift.io.member_names import name_problem
from pairsift.io.subsets import write_subset
from pairsift.io.tars import TarSink, read_samples
from pairsift.stages.embed import embed
from pairsift.stages.reshard import ReshardConfig, reshard
from pairsift.uids import from_keys, parse_uids
from pairsift.world.shards import tar_bytes
from tests.hostile.tars import (
    HOSTILE,
    embed_config,
    encoder,
    hostile_tar,
    outside_after_extract,
    uid,
)

#: samples of hostile_tar: good0, one per hostile member, good1
SAMPLES = 2 + len(HOSTILE)


@pytest.fixture(autouse=True)
def _no_leftovers() -> None:
    for stale in Path("/tmp").glob("pairsift-abs-*"):
        stale.unlink()


@pytest.mark.parametrize(
    "name",
    ["../x", "/abs/x", "dir/../../x", "a//b", "", "a\x00b", "..\\x", "C:x", "x" * 256, "a/" * 600 + "x"],
)
def test_unsafe_names(name: str) -> None:
    assert name_problem(name) is not None


@pytest.mark.parametrize("name", ["000123.jpg", "shard/000123.txt", "./000123.json", "é.jpg", "a..b.jpg"])
def test_safe_names(name: str) -> None:
    assert name_problem(name) is None


def test_reader_refuses_every_hostile_member(tmp_path: Path) -> None:
    samples = list(read_samples(str(hostile_tar(tmp_path / "h.tar"))))
    assert len(samples) == SAMPLES
    assert [s.key for s in (samples[0], samples[-1])] == ["good0", "good1"]
    assert not samples[0].refused and not samples[-1].refused
    for sample in samples[1:-1]:
        assert sample.refused and {r.status for r in sample.refused} == {"unsafe_member"}, sample.key
        assert all(name_problem(i.name) is None and i.isreg() for i, _ in sample.members)


def _subset(path: Path, uids: list[str]) -> str:
    keys, ok = parse_uids(np.array(uids, dtype=object))
    assert ok.all()
    write_subset(path, from_keys(keys))
    return str(path)


@pytest.mark.parametrize("layout", ["pairsift", "datacomp"])
def test_reshard_writes_only_safe_names_and_counts_the_rest(tmp_path: Path, layout: str) -> None:
    hostile_tar(tmp_path / "in" / "h.tar")
    every = [uid(0), uid(1)] + [uid(100 + j) for j in range(len(HOSTILE))]
    out = tmp_path / "out"
    config = ReshardConfig(str(tmp_path / "in"), _subset(tmp_path / "s.npy", every), str(out), layout=layout)
    summary = reshard(config)
    assert summary.ok and summary.input_samples == SAMPLES and summary.written_samples == 2
    assert summary.refused == len(HOSTILE) and summary.refused_reasons == {"unsafe_member": len(HOSTILE)}
    tars = sorted(out.glob("*.tar"))
    assert tars
    for tar in tars:
        with tarfile.open(tar) as archive:
            members = archive.getmembers()
        assert all(m.isreg() and name_problem(m.name) is None and not m.mode & ~0o777 for m in members)
        assert outside_after_extract(tar, tmp_path / "extract" / tar.stem) == []


def test_embed_records_the_status_per_row(tmp_path: Path) -> None:
    hostile_tar(tmp_path / "in" / "h.tar")
    summary = embed(embed_config(tmp_path / "in", tmp_path / "pool"), encoder=encoder())
    assert summary.ok and summary.rows == SAMPLES
    assert summary.statuses == {"ok": 2, "unsafe_member": len(HOSTILE)}
    status = pq.read_table(tmp_path / "pool" / "h.parquet").column("status").to_pylist()
    assert status == ["ok"] + ["unsafe_member"] * len(HOSTILE) + ["ok"]


def test_writers_refuse_unsafe_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="refusing to write tar member"):
        tar_bytes([("../escape", [("jpg", b"x")])])
    sink = TarSink(tmp_path, "s", 10)
    member = tarfile.TarInfo("/abs/x.jpg")
    with pytest.raises(ValueError, match="absolute name"):
        sink.add([(member, b"")])
    link = tarfile.TarInfo("ok.jpg")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(ValueError, match="symbolic link"):
        sink.add([(link, b"")])
    sink.abort()
    assert list(tmp_path.iterdir()) == []
