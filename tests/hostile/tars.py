"""Hostile webdataset tars built in code (traversal names, links, devices, bombs), and the stages that
read them run in this process on tiny real models."""

from __future__ import annotations

import functools
import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any

from pairsift.models.openclip import OpenClipEncoder
from pairsift.stages.caption import CaptionConfig
from pairsift.stages.embed import EmbedConfig
from tests.embed_data import image_bytes
from tests.models.tiny import tiny_open_clip
from tests.models.tiny_blip import save_tiny_blip

#: one hostile member per line: (name, tar type, link target); every one must be refused
HOSTILE = [
    ("../evil.jpg", tarfile.REGTYPE, ""),
    ("/tmp/pairsift-abs-evil.jpg", tarfile.REGTYPE, ""),
    ("dir/../../evil2.jpg", tarfile.REGTYPE, ""),
    ("..\\evil3.jpg", tarfile.REGTYPE, ""),
    ("line\nbreak.jpg", tarfile.REGTYPE, ""),
    ("x" * 300 + ".jpg", tarfile.REGTYPE, ""),
    ("sym.jpg", tarfile.SYMTYPE, "/etc/passwd"),
    ("up.jpg", tarfile.SYMTYPE, "../../outside"),
    ("hard.jpg", tarfile.LNKTYPE, "good0.jpg"),
    ("dev.jpg", tarfile.CHRTYPE, ""),
    ("fifo.jpg", tarfile.FIFOTYPE, ""),
]


def uid(i: int) -> str:
    return f"{i + 1:032x}"


def info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.size, member.type, member.linkname, member.mtime, member.mode = size, kind, link, 0, 0o644
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        member.devmajor, member.devminor = 1, 3
    return member


def sample_members(key: str, i: int, caption: str = "a photo") -> list[tuple[tarfile.TarInfo, bytes]]:
    """A good sample ``key`` with uid ``uid(i)``: PNG, caption, JSON sidecar."""
    files = {
        "jpg": image_bytes(i, fmt="JPEG"),
        "txt": caption.encode(),
        "json": json.dumps({"uid": uid(i)}).encode(),
    }
    return [(info(f"{key}.{ext}", len(data)), data) for ext, data in files.items()]


def write(
    path: Path, members: list[tuple[tarfile.TarInfo, bytes | IO[bytes] | None]], mode: str = "w"
) -> Path:
    """Write members as given (data bytes, a stream of ``info.size`` bytes, or None for non-files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            stream = io.BytesIO(data) if isinstance(data, bytes) else data
            tar.addfile(member, stream if member.isreg() else None)
    return path


def hostile_tar(path: Path) -> Path:
    """``good0``, then every :data:`HOSTILE` member (each a sample with a caption and a valid sidecar uid
    ``uid(100+j)`` under the same key), then ``good1``."""
    members: list[tuple[tarfile.TarInfo, bytes | IO[bytes] | None]] = list(sample_members("good0", 0))
    for j, (name, kind, link) in enumerate(HOSTILE):
        data = image_bytes(j, fmt="JPEG") if kind == tarfile.REGTYPE else b""
        members.append((info(name, len(data), kind, link), data if kind == tarfile.REGTYPE else None))
        # a caption and a sidecar with a valid uid under the same key: one sample, refused as a whole
        key = name.rsplit(".", 1)[0]
        sidecar = json.dumps({"uid": uid(100 + j)}).encode()
        members += [(info(f"{key}.txt", 3), b"cap"), (info(f"{key}.json", len(sidecar)), sidecar)]
    members += sample_members("good1", 1)
    return write(path, members)


class Zeros(io.RawIOBase):
    """``size`` zero bytes, streamed (a bomb's member is never held in memory by the test either)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def bomb_tar(path: Path, size: int = 50 << 20, member: str = "bomb.jpg") -> Path:
    """A ``.tar.gz`` of ``good0``, a ``size``-byte zero member (``bomb.jpg`` with its caption and sidecar,
    uid ``uid(9)``), ``good1``: 50 MB compress to ~50 KB."""
    key = member.rsplit(".", 1)[0]
    sidecar = json.dumps({"uid": uid(9)}).encode()
    members: list[tuple[tarfile.TarInfo, bytes | IO[bytes] | None]] = [
        *sample_members("good0", 0),
        (info(member, size), io.BufferedReader(Zeros(size), 1 << 20)),
        (info(f"{key}.txt", 3), b"cap"),
        (info(f"{key}.json", len(sidecar)), sidecar),
        *sample_members("good1", 1),
    ]
    return write(path, members, mode="w:gz")


@functools.cache
def encoder() -> OpenClipEncoder:
    model, preprocess, tokenizer = tiny_open_clip(seed=3)
    return OpenClipEncoder(model, preprocess, tokenizer)


def embed_config(input: Path, output: Path, **kw: Any) -> EmbedConfig:
    options: dict[str, Any] = {"model": "open_clip:tiny", "batch_size": 2, "num_workers": 0, "device": "cpu"}
    return EmbedConfig(input=str(input), output=str(output), **{**options, **kw})


@functools.cache
def blip() -> Path:
    return save_tiny_blip(Path(tempfile.mkdtemp(prefix="hostile-blip-")) / "blip")


def caption_config(input: Path, output: Path, **kw: Any) -> CaptionConfig:
    from pairsift.models.caption_settings import CaptionSettings

    options: dict[str, Any] = {
        "settings": CaptionSettings(num_captions=1, max_length=5),
        "device": "cpu",
        "batch_size": 4,
        "num_workers": 0,
    }
    return CaptionConfig(input=str(input), output=str(output), model=str(blip()), **{**options, **kw})


def outside_after_extract(tar: Path, root: Path) -> list[str]:
    """Extract ``tar`` into ``root/x`` twice (``filter="data"``, then no filter) and list what landed
    outside ``root/x`` (also anything new in ``/tmp`` named ``pairsift-abs-*``)."""
    target = root / "x"
    target.mkdir(parents=True)
    before = set(root.parent.rglob("*"))
    for options in ({"filter": "data"}, {"filter": "fully_trusted"}):
        with tarfile.open(tar) as archive:
            archive.extractall(target, **options)
    after = set(root.parent.rglob("*"))
    inside = target.resolve()
    outside = [str(p) for p in after - before if not p.resolve().is_relative_to(inside) and p != target]
    outside += [str(p) for p in Path("/tmp").glob("pairsift-abs-*")]
    return outside
