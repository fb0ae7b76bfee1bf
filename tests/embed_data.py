"""Raw image–text inputs built in code: images, webdataset tars, folders, parquet."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image


def image_bytes(seed: int, size: tuple[int, int] = (40, 30), fmt: str = "PNG") -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


def write_tar(path: Path, samples: list[tuple[str, dict[str, bytes]]]) -> Path:
    """``samples``: ``(key, {extension: bytes})`` in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for key, members in samples:
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def sample(
    seed: int, caption: str, uid: str | None = None, fmt: str = "png", **kw: object
) -> dict[str, bytes]:
    members = {
        fmt: image_bytes(seed, fmt="JPEG" if fmt == "jpg" else fmt.upper(), **kw),
        "txt": caption.encode(),
    }  # type: ignore[arg-type]
    if uid is not None:
        members["json"] = json.dumps({"uid": uid, "url": f"https://example.com/{seed}.{fmt}"}).encode()
    return members


def mixed_tar(path: Path, offset: int = 0) -> Path:
    """Six samples: ok (uid), ok (no json), corrupt, empty caption, oversized (100x100), ok (jpg)."""
    return write_tar(
        path,
        [
            (f"{offset:04d}", sample(offset, "a red square", uid=f"{offset + 1:032x}")),
            (f"{offset + 1:04d}", sample(offset + 1, "a blue circle")),
            (f"{offset + 2:04d}", {"jpg": b"not an image", "txt": b"a broken file"}),
            (f"{offset + 3:04d}", sample(offset + 3, "   ", uid=f"{offset + 4:032x}")),
            (f"{offset + 4:04d}", sample(offset + 4, "a huge photo", size=(100, 100))),
            (f"{offset + 5:04d}", sample(offset + 5, "a green cat", fmt="jpg")),
        ],
    )


MIXED_STATUS = ["ok", "ok", "corrupt_image", "empty_caption", "image_too_large", "ok"]
