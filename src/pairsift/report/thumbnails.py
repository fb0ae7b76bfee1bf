"""Downscaled thumbnails of gallery samples, read from the raw image shards, embedded as data: URIs.

Only the raw shards that hold a gallery sample are read, each until its last wanted sample
(webdataset tars are read sequentially). Samples are matched by uid, which ``pairsift embed`` takes
from the raw sample (or derives from shard and key the same way), so a pool made by ``pairsift
embed`` always finds its images. Every image is re-encoded as a small JPEG: nothing of the original
file (metadata, format quirks) reaches the page.
"""

from __future__ import annotations

import base64
import io
import logging
import warnings
from dataclasses import dataclass

from PIL import Image

from pairsift.errors import InputError
from pairsift.io.raw import DEFAULT_MAX_PIXELS, RawInput, open_raw_input
from pairsift.progress import track

logger = logging.getLogger(__name__)

JPEG_QUALITY = 75


@dataclass(frozen=True)
class Thumbnail:
    """A ``data:image/jpeg;base64,…`` URI, or ``None`` and why not."""

    uri: str | None
    note: str = ""


def thumbnail_uri(data: bytes, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Thumbnail:
    """Decode ``data``, shrink it to fit ``size`` x ``size`` and encode it as a JPEG data URI."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    return Thumbnail(None, f"image too large ({width}x{height})")
                image.draft("RGB", (size * 2, size * 2))  # JPEG: decode at a reduced scale
                rgb = image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Thumbnail(None, "image too large")
    except Exception:  # any decoder failure is this card's problem only
        return Thumbnail(None, "image could not be decoded")
    rgb.thumbnail((size, size))
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return Thumbnail("data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii"))


class ImageShards:
    """The raw input a pool was embedded from (webdataset tars, a folder, parquet with images)."""

    def __init__(self, url: str, size: int) -> None:
        self.url = url
        self.size = size
        self.input: RawInput = open_raw_input(url)

    def fetch(self, wanted: dict[str, set[str]]) -> dict[str, Thumbnail]:
        """Thumbnails of ``{shard: uids}``, by uid; uids not found get a note."""
        found: dict[str, Thumbnail] = {}
        for shard in track(sorted(wanted), "report: thumbnails"):
            uids = set(wanted[shard])
            if shard not in self.input.paths:
                found.update({u: Thumbnail(None, f"no shard {shard!r} in {self.url}") for u in uids})
                continue
            try:
                found.update(self._read_shard(shard, uids))
            except InputError as exc:  # a damaged tar costs its thumbnails, not the report
                logger.warning("thumbnails: %s", exc)
                found.update({u: Thumbnail(None, "image shard unreadable") for u in uids if u not in found})
        return found

    def _read_shard(self, shard: str, uids: set[str]) -> dict[str, Thumbnail]:
        out: dict[str, Thumbnail] = {}
        for sample in self.input.samples(shard):
            if sample.uid in uids and sample.uid not in out:
                data = self.input.image_bytes(sample)
                out[sample.uid] = (
                    thumbnail_uri(data, self.size) if data is not None else Thumbnail(None, "no image")
                )
                if len(out) == len(uids):
                    break
        out.update({u: Thumbnail(None, f"not found in shard {shard}") for u in uids - set(out)})
        return out
