"""Issue 16, item 2: decompression and size bombs. One ReadLimits for every reader: a member over its cap
is never read (a per-row status), a shard past its decompressed cap fails naming the file, memory stays
bounded (a 50 MB zero member in a ~50 KB .tar.gz, with caps set low so the test is cheap)."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.cli import main
from pairsift.errors import ConfigError, InputError
from pairsift.io.limits import ReadLimits
from pairsift.io.raw import open_raw_input
from pairsift.io.tars import read_samples
from pairsift.stages.caption import caption
from pairsift.stages.embed import embed
from pairsift.stages.reshard import ReshardConfig, reshard
from tests.embed_data import image_bytes
from tests.hostile.tars import (
    HOSTILE,
    bomb_tar,
    caption_config,
    embed_config,
    encoder,
    hostile_tar,
    sample_members,
    uid,
    write,
)
from tests.hostile.test_tar_names import _subset

BOMB = 50 << 20
LOW = ReadLimits(
    max_image_bytes=1 << 20, max_caption_bytes=1000, max_json_bytes=1000, max_shard_bytes=100 << 20
)
BOUND = 8 << 20  #: peak Python allocations allowed while reading the bomb (the member is 50 MB)


def peak(run: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = bomb_tar(tmp_path_factory.mktemp("bomb") / "in" / "b.tar.gz", BOMB)
    assert path.stat().st_size < 1 << 20
    return path


def test_reader_skips_the_bomb_in_bounded_memory(bomb: Path) -> None:
    samples, used = peak(lambda: list(read_samples(str(bomb), LOW)))
    assert used < BOUND
    assert [s.key for s in samples] == ["good0", "bomb", "good1"]
    assert [(r.status, r.extension) for r in samples[1].refused] == [("member_too_large", "jpg")]


def test_shard_past_its_decompressed_cap_fails_naming_the_file(bomb: Path, tmp_path: Path) -> None:
    small = ReadLimits(max_image_bytes=1 << 20, max_shard_bytes=10 << 20)
    with pytest.raises(InputError, match=r"b\.tar\.gz: more than 10485760 bytes after decompression"):
        list(read_samples(str(bomb), small))
    subset = _subset(tmp_path / "s.npy", [uid(0), uid(1), uid(9)])
    summary = reshard(ReshardConfig(str(bomb), subset, str(tmp_path / "out"), limits=small))
    assert [f.shard for f in summary.failures] == ["b"] and "max_shard_bytes" in summary.failures[0].error
    assert not list((tmp_path / "out").glob("*.tar"))


def test_reshard_in_bounded_memory(bomb: Path, tmp_path: Path) -> None:
    subset = _subset(tmp_path / "s.npy", [uid(0), uid(1), uid(9)])
    config = ReshardConfig(str(bomb), subset, str(tmp_path / "out"), limits=LOW)
    summary, used = peak(lambda: reshard(config))
    assert used < BOUND
    assert summary.ok and summary.written_samples == 2 and summary.refused_reasons == {"member_too_large": 1}
    assert sum(p.stat().st_size for p in (tmp_path / "out").glob("*.tar")) < 1 << 20
    record = json.loads((tmp_path / "out" / "reshard.json").read_text())
    assert record["limits"] == LOW.to_dict()


def test_embed_in_bounded_memory_with_a_status(bomb: Path, tmp_path: Path) -> None:
    tiny = encoder()  # built (and its modules imported) before measuring
    summary, used = peak(
        lambda: embed(embed_config(bomb.parent, tmp_path / "pool", limits=LOW), encoder=tiny)
    )
    assert used < BOUND
    assert summary.ok and summary.statuses == {"image_too_large": 1, "ok": 2}
    config = json.loads((tmp_path / "pool" / "embed.json").read_text())["config"]
    assert config["limits"] == LOW.to_dict()


def test_caption_in_bounded_memory_with_statuses(bomb: Path, tmp_path: Path) -> None:
    """One caption run for items 1 and 2: the bomb tar and the hostile-names tar side by side."""
    from pairsift.models.captioners import load_captioner  # noqa: F401  (imported before measuring)

    hostile_tar(bomb.parent / "h.tar")
    try:
        config = caption_config(bomb.parent, tmp_path / "cache", limits=LOW)
        summary, used = peak(lambda: caption(config))
    finally:
        (bomb.parent / "h.tar").unlink()
    assert used < BOUND
    assert summary.ok and summary.statuses == {"image_too_large": 1, "ok": 4, "unsafe_member": len(HOSTILE)}
    rows = pq.read_table(tmp_path / "cache" / "h.parquet").to_pylist()
    assert [r["status"] for r in rows] == ["ok"] + ["unsafe_member"] * len(HOSTILE) + ["ok"]
    assert [r["captions"] is None for r in rows] == [False] + [True] * len(HOSTILE) + [False]


def test_huge_caption_and_sidecar_get_statuses_not_stored(tmp_path: Path) -> None:
    sidecar = json.dumps({"uid": uid(3), "pad": "x" * 2000}).encode()
    members = [
        *sample_members("good0", 0),
        *sample_members("long", 2, caption="y" * 300_000),  # a 300 KB "caption"; default cap 64 KiB
        *[(m, d) for m, d in sample_members("meta", 3) if not m.name.endswith(".json")],
    ]
    from tests.hostile.tars import info

    members.append((info("meta.json", len(sidecar)), sidecar))
    write(tmp_path / "in" / "t.tar", members)
    source = open_raw_input(str(tmp_path / "in"), limits=ReadLimits(max_json_bytes=1000))
    rows = list(source.samples("t"))
    assert [(r.problem, r.text is None) for r in rows] == [
        (None, False),
        ("caption_too_large", True),
        ("member_too_large", False),
    ]


def test_folder_and_parquet_inputs_have_the_same_caps(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    big, small = image_bytes(0, size=(300, 300)), image_bytes(1)
    (folder / "big.png").write_bytes(big)
    (folder / "small.png").write_bytes(small)
    rows = [{"file_name": "big.png", "caption": "a"}, {"file_name": "small.png", "caption": "z" * 5000}]
    (folder / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    limits = ReadLimits(max_image_bytes=len(small) + 10, max_caption_bytes=1000)
    source = open_raw_input(str(folder), limits=limits)
    got = list(source.samples("c"))
    assert got[1].problem == "caption_too_large"
    with pytest.raises(InputError, match="max_image_bytes"):
        source.image_bytes(got[0])
    assert source.image_bytes(got[1]) == small
    table = pa.table({"image": [big, small], "caption": ["a", "b"]})
    pq.write_table(table, tmp_path / "p.parquet")
    parquet = list(open_raw_input(str(tmp_path / "p.parquet"), limits=limits).samples("p"))
    assert [(r.problem, r.image is None) for r in parquet] == [("image_too_large", True), (None, False)]
    with pytest.raises(InputError, match="max_shard_bytes"):
        list(open_raw_input(str(tmp_path / "p.parquet"), limits=ReadLimits(max_shard_bytes=100)).samples("p"))


def test_limits_from_the_cli_and_recipes(
    tmp_path: Path, bomb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subset = _subset(tmp_path / "s.npy", [uid(0)])
    code = main(
        [
            "-q",
            "reshard",
            str(bomb),
            "--subset",
            subset,
            "-o",
            str(tmp_path / "o"),
            "--max-image-bytes",
            "100000",
        ]
    )
    assert code == 0
    assert json.loads((tmp_path / "o" / "reshard.json").read_text())["limits"]["max_image_bytes"] == 100000
    assert "samples refused (not written): 1 (member_too_large=1)" in capsys.readouterr().out
    assert ReshardConfig("i", "s", "o", limits={"max_caption_bytes": 5}).limits.max_caption_bytes == 5  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="valid: max_caption_bytes"):
        ReadLimits.from_dict({"max_image_byte": 1})
    with pytest.raises(ConfigError, match="max_json_bytes must be an integer >= 1"):
        ReadLimits(max_json_bytes=0)
