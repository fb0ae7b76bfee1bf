"""Issue 16: uid lists are told apart by content, the same way by every reader."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.api import reshard
from pairsift.errors import InputError
from pairsift.io.subsets import read_subset
from pairsift.io.uid_files import detect_format, info, read_uids
from pairsift.select.selection import SelectConfig, select
from pairsift.uids import from_hex, to_hex
from tests.pools import hex_uids
from tests.select.helpers import make_run

UIDS = sorted(hex_uids(16, seed=4))  # 16 lines of 33 bytes: 528 bytes, a multiple of 16


def text_list(path: Path, uids: list[str], end: str = "\n") -> Path:
    path.write_text("".join(u + end for u in uids))
    return path


def test_a_txt_list_whose_size_is_a_multiple_of_16_is_read_as_text(tmp_path):
    path = text_list(tmp_path / "dfn.txt", UIDS)
    assert path.stat().st_size % 16 == 0
    assert list(to_hex(read_subset(path))) == UIDS
    assert list(to_hex(read_subset(path, mmap=True))) == UIDS
    assert detect_format(path) == "text" and info(path).count == 16


@pytest.mark.parametrize("rule", ["exclude", "restrict"])
def test_select_rules_read_a_txt_list_as_text(tmp_path, rule):
    listed = UIDS[:16]
    uids = [listed + hex_uids(14, seed=5)]
    run, _ = make_run(tmp_path / "run", {"s": [np.arange(30, dtype=np.float32)]}, uids=uids)
    path = text_list(tmp_path / "list.txt", listed)
    select(run, SelectConfig(rules=((rule, str(path)),), output=str(tmp_path / "out.npy")))
    kept = set(to_hex(read_subset(tmp_path / "out.npy")))
    assert kept == (set(listed) if rule == "restrict" else set(uids[0]) - set(listed))


def test_reshard_reads_a_txt_subset_as_text(tmp_path):
    root = tmp_path / "tars"
    root.mkdir()
    with tarfile.open(root / "00000.tar", "w") as tar:
        for i, uid in enumerate(UIDS):
            for ext, data in (("txt", f"caption {i}".encode()), ("json", json.dumps({"uid": uid}).encode())):
                member = tarfile.TarInfo(f"{i:06d}.{ext}")
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
    subset = text_list(tmp_path / "keep.txt", UIDS)
    summary = reshard(str(root), str(subset), str(tmp_path / "out"))
    assert summary.ok and summary.written_samples == 16


def test_content_decides_whatever_the_name(tmp_path):
    subset = from_hex(UIDS)
    np.save(tmp_path / "real.npy", subset)
    (tmp_path / "saved.txt").write_bytes((tmp_path / "real.npy").read_bytes())  # .npy bytes named .txt
    pq.write_table(pa.table({"uid": UIDS}), tmp_path / "uids.bin")  # parquet bytes, another name
    text_list(tmp_path / "list.uids", UIDS[:3])  # text, no suffix that says so (99 bytes)
    subset.tofile(tmp_path / "raw.npy")  # DataComp's raw memmap, named .npy
    assert [detect_format(tmp_path / n) for n in ("saved.txt", "uids.bin", "list.uids", "raw.npy")] == [
        "npy",
        "parquet",
        "text",
        "raw",
    ]
    for name in ("saved.txt", "uids.bin", "raw.npy"):
        assert list(to_hex(read_subset(tmp_path / name))) == UIDS
    assert list(to_hex(read_uids(tmp_path / "list.uids"))) == UIDS[:3]


def test_text_that_is_also_valid_raw_rows_is_refused_saying_how_to_tell(tmp_path):
    path = text_list(tmp_path / "subset.npy", UIDS)  # no header, 528 bytes of hex lines
    for read in (read_subset, read_uids, info):
        with pytest.raises(InputError, match=r"subset\.npy: cannot tell the format.*\.txt.*np\.save"):
            read(path)
    assert list(to_hex(read_subset(path.rename(tmp_path / "subset.txt")))) == UIDS


def test_a_text_list_with_a_bad_line_names_the_line_even_without_a_txt_name(tmp_path):
    path = tmp_path / "list.dat"
    path.write_text("\n".join([*UIDS[:15], "not a uid, sixteen+ bytes long!!"]) + "\n")
    assert path.stat().st_size % 16 == 0  # looks raw by size; the content is text
    with pytest.raises(InputError, match=r"list\.dat: line 16: expected a 32-hex uid"):
        read_subset(path)


def test_crlf_upper_case_and_blank_lines_are_text(tmp_path):
    path = tmp_path / "win.list"
    path.write_bytes(b"\r\n".join(u.upper().encode() for u in UIDS[:4]) + b"\r\n\r\n")
    assert Counter(to_hex(read_subset(path))) == Counter(UIDS[:4])
