"""Raw inputs and image decoding: statuses per row, derived uids, format detection."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from pairsift.errors import InputError
from pairsift.io.images import CORRUPT_IMAGE, IMAGE_TOO_LARGE, MISSING_IMAGE, decode_image
from pairsift.io.raw import derived_uid, detect_kind, open_raw_input
from tests.embed_data import image_bytes, write_tar


def test_decode_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    image, status, w, h = decode_image(image_bytes(0, size=(40, 30)), max_pixels=10_000)
    assert status == "ok" and image is not None and image.mode == "RGB" and (w, h) == (40, 30)
    assert decode_image(image_bytes(0, size=(40, 30)), max_pixels=1000)[1:] == (IMAGE_TOO_LARGE, 40, 30)
    assert decode_image(b"\x89PNG garbage", max_pixels=10_000)[1] == CORRUPT_IMAGE
    assert decode_image(None, max_pixels=10_000)[1] == MISSING_IMAGE
    truncated = image_bytes(1, size=(64, 64), fmt="JPEG")[:200]
    assert decode_image(truncated, max_pixels=10_000)[1] == CORRUPT_IMAGE
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # PIL's own bomb guard, below our limit
    assert decode_image(image_bytes(0, size=(40, 30)), max_pixels=10**9)[1] == IMAGE_TOO_LARGE
    assert decode_image(image_bytes(0, size=(20, 20)), max_pixels=10**9)[1] == IMAGE_TOO_LARGE  # warning


def test_derived_uid_is_blake2b_of_shard_and_key() -> None:
    assert derived_uid("s", "k/1") == hashlib.blake2b(b"s/k/1", digest_size=16).hexdigest()
    assert len(derived_uid("s", "k")) == 32


def test_detect_kind_and_errors(tmp_path: Path) -> None:
    write_tar(tmp_path / "tars" / "a.tar", [])
    (tmp_path / "pq").mkdir()
    (tmp_path / "pq" / "a.parquet").write_bytes(b"")
    (tmp_path / "imgs").mkdir()
    assert detect_kind(str(tmp_path / "tars")) == "webdataset"
    assert detect_kind(str(tmp_path / "tars" / "a.tar")) == "webdataset"
    assert detect_kind(str(tmp_path / "pq")) == "parquet"
    assert detect_kind(str(tmp_path / "imgs")) == "folder"
    with pytest.raises(InputError, match="no such file"):
        open_raw_input(str(tmp_path / "missing"))
    write_tar(tmp_path / "dupes" / "a.tar", [])
    write_tar(tmp_path / "dupes" / "a.tar.gz", [])
    with pytest.raises(InputError, match="two shards named 'a'"):
        open_raw_input(str(tmp_path / "dupes"))


def test_captions_file_without_file_names_names_the_row(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text('{"file_name": "a.png", "caption": "x"}\n{"caption": "y"}\n')
    source = open_raw_input(str(tmp_path))
    with pytest.raises(InputError, match="row 2 has no image file name"):
        list(source.samples("c"))


def test_fsspec_memory_urls(tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/embedtest/x.jsonl", b'{"file_name": "a.png", "caption": "a cat"}\n')
    fs.pipe("/embedtest/a.png", image_bytes(3))
    source = open_raw_input("memory://embedtest")
    [sample] = list(source.samples("x"))
    assert sample.text == "a cat" and source.image_bytes(sample) == image_bytes(3)
