"""Raw image–text inputs for ``pairsift embed``: webdataset tars, image folders, parquet with images.

Each input lists its *shards* (one unit of work each: a tar, a captions file, a parquet file) and
streams a shard's :class:`RawSample` rows in a stable order. Image bytes of folder and parquet-path
inputs are read lazily (:meth:`RawInput.image_bytes`), so a DataLoader worker reads only its own.

Uids follow the one rule of :mod:`pairsift.io.sample_uids` (the sample's own 32-hex uid, else
``derived_uid(shard, key)``), which ``reshard`` follows too. Every read is bounded by a
:class:`~pairsift.io.limits.ReadLimits`: a member over its cap is not read and its row gets a status.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from pairsift.data import CAPTION_TOO_LARGE, MEMBER_TOO_LARGE, UID_COLUMN, UNSAFE_MEMBER
from pairsift.errors import InputError
from pairsift.io.fs import display, open_input, resolve
from pairsift.io.limits import ReadLimits, read_capped
from pairsift.io.sample_uids import NO_JSON, derived_uid, sidecar_uid, uid_of
from pairsift.io.tars import Sample, read_samples
from pairsift.registry import Registry

__all__ = ["RAW_INPUTS", "ImageTooLarge", "RawInput", "RawSample", "derived_uid", "open_raw_input"]

#: Default pixel limit: PIL's own decompression-bomb threshold.
DEFAULT_MAX_PIXELS = 89_478_485
#: the status of an image over the pixel or the byte limit
IMAGE_TOO_LARGE = "image_too_large"

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
CAPTION_SUFFIXES = (".jsonl", ".csv")
#: column names tried, in order, in captions files and parquet inputs
FILE_FIELDS = ("file_name", "file", "image_path", "path", "filename")
TEXT_FIELDS = ("text", "caption", "txt")
BYTES_FIELDS = ("image", "jpg", "jpeg", "png", "webp", "image_bytes")


class ImageTooLarge(InputError):
    """An image file over ``ReadLimits.max_image_bytes`` (its row gets ``image_too_large``)."""


@dataclass
class RawSample:
    key: str
    uid: str
    text: str | None
    url: str | None = None
    image: bytes | None = None  #: the bytes, when the input holds them
    image_path: str | None = None  #: else where to read them (through the input's filesystem)
    width: int | None = None  #: original size from metadata, when the input records it
    height: int | None = None
    #: why a member was not read (``unsafe_member``, ``image_too_large``, ``caption_too_large``,
    #: ``member_too_large``): the row's status, ahead of any decoding status
    problem: str | None = None
    uid_reason: str = ""  #: why the uid was derived (:mod:`pairsift.io.sample_uids`), "" if it was not


class RawInput(ABC):
    """A set of raw shards behind one local path or fsspec URL."""

    kind = ""

    def __init__(self, url: str, limits: ReadLimits | None = None) -> None:
        self.url = url
        self.limits = limits or ReadLimits()
        self.fs, self.root = resolve(url)
        if not self.fs.exists(self.root):
            raise InputError(f"input {url}: no such file or directory")
        self.paths = self._list()
        if not self.paths:
            raise InputError(f"input {url}: no {self.kind} shards found")

    @abstractmethod
    def _list(self) -> dict[str, str]:
        """Shard name -> path."""

    @abstractmethod
    def samples(self, shard: str) -> Iterator[RawSample]:
        """The rows of one shard, in a stable order."""

    def shards(self) -> list[str]:
        return sorted(self.paths)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "shards": len(self.paths)}

    def image_bytes(self, sample: RawSample) -> bytes | None:
        if sample.image is not None or sample.image_path is None:
            return sample.image
        with open_input(self.fs, sample.image_path) as fh:
            data = read_capped(fh, self.limits.max_image_bytes)
        if data is None:
            where = display(self.fs, sample.image_path)
            raise ImageTooLarge(f"{where}: more than {self.limits.max_image_bytes} bytes (max_image_bytes)")
        return data

    def _caption(self, text: Any) -> tuple[str | None, str | None]:
        """``(caption, problem)``: a string caption within ``max_caption_bytes``, else ``None``."""
        if not isinstance(text, str):
            return None, None
        if len(text) > self.limits.max_caption_bytes or len(text.encode()) > self.limits.max_caption_bytes:
            return None, CAPTION_TOO_LARGE
        return text, None

    def _image_cell(self, value: Any) -> tuple[Any, str | None]:
        """A parquet image cell within ``max_image_bytes`` (else ``None`` and ``image_too_large``)."""
        if isinstance(value, (bytes, bytearray)) and len(value) > self.limits.max_image_bytes:
            return None, IMAGE_TOO_LARGE
        return value, None

    def _find(self, suffixes: tuple[str, ...]) -> list[str]:
        if self.fs.isfile(self.root):
            return [self.root] if self.root.lower().endswith(suffixes) else []
        return sorted(p for p in self.fs.find(self.root, maxdepth=1) if p.lower().endswith(suffixes))

    def _by_stem(self, paths: list[str], suffixes: tuple[str, ...]) -> dict[str, str]:
        out: dict[str, str] = {}
        for path in paths:
            base = posixpath.basename(path.replace("\\", "/"))
            stem = next(base[: -len(s)] for s in suffixes if base.lower().endswith(s))
            if stem in out:
                raise InputError(f"input {self.url}: two shards named {stem!r}: {out[stem]} and {path}")
            out[stem] = path
        return out

    def _relative(self, base: str, name: str) -> str:
        if "://" in name or name.startswith("/"):
            return name
        return posixpath.join(posixpath.dirname(base), name)


RAW_INPUTS: Registry[type[RawInput]] = Registry("input format")


@RAW_INPUTS.register("webdataset")
class WebDatasetInput(RawInput):
    """Tars of samples ``KEY.{jpg,jpeg,png,webp}`` + ``KEY.txt`` (+ ``KEY.json`` with ``uid``, ``url``)."""

    kind = "webdataset"

    def _list(self) -> dict[str, str]:
        return self._by_stem(self._find(TAR_SUFFIXES), TAR_SUFFIXES)

    def samples(self, shard: str) -> Iterator[RawSample]:
        path = self.paths[shard]
        for sample in read_samples(display(self.fs, path), self.limits):
            uid, meta = sidecar_uid(shard, sample.key, sample.member("json"))
            if uid.reason not in ("", NO_JSON):  # one bad metadata file costs its uid and url, not the shard
                logger.warning(
                    "%s: %s.json: %s; deriving the uid", display(self.fs, path), sample.key, uid.reason
                )
            image = next((d for e in IMAGE_EXTENSIONS if (d := sample.member(e)) is not None), None)
            raw_text = sample.member("txt")
            yield RawSample(
                key=sample.key,
                uid=uid.uid,
                text=raw_text.decode("utf-8", "replace") if raw_text is not None else None,
                url=meta.get("url") if isinstance(meta.get("url"), str) else None,
                image=image,
                width=_int(meta.get("original_width")),
                height=_int(meta.get("original_height")),
                problem=refusal_status(sample),
                uid_reason=uid.reason,
            )


def refusal_status(sample: Sample) -> str | None:
    """The row status of a sample with refused members: ``unsafe_member`` first, then by what was too large
    (the image: ``image_too_large``, the caption: ``caption_too_large``, else ``member_too_large``)."""
    if not sample.refused:
        return None
    if any(r.status == UNSAFE_MEMBER for r in sample.refused):
        return UNSAFE_MEMBER
    extensions = {r.extension for r in sample.refused}
    if extensions & set(IMAGE_EXTENSIONS):
        return IMAGE_TOO_LARGE
    if "txt" in extensions:
        return CAPTION_TOO_LARGE
    return MEMBER_TOO_LARGE


@RAW_INPUTS.register("folder")
class FolderInput(RawInput):
    """Images beside captions files: each ``*.jsonl``/``*.csv`` (a file name column, a caption column,
    optional ``uid``/``url``) is one shard. A directory without captions files is one shard of all
    its images, captionless (for ``embed-targets``)."""

    kind = "folder"

    def _list(self) -> dict[str, str]:
        captions = self._find(CAPTION_SUFFIXES)
        if captions:
            return self._by_stem(captions, CAPTION_SUFFIXES)
        if self.fs.isdir(self.root):
            return {posixpath.basename(self.root.rstrip("/")) or "images": self.root}
        return {}

    def samples(self, shard: str) -> Iterator[RawSample]:
        path = self.paths[shard]
        if path == self.root and self.fs.isdir(path):
            yield from self._images(shard, path)
            return
        where = display(self.fs, path)
        with open_input(self.fs, path) as fh:
            content = read_capped(fh, self.limits.max_shard_bytes)
        if content is None:
            raise InputError(f"{where}: more than {self.limits.max_shard_bytes} bytes (max_shard_bytes)")
        text = content.decode("utf-8")
        if path.lower().endswith(".csv"):
            rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(text)))
        else:
            rows = [
                _json(line.encode(), f"{where}: line {i}")
                for i, line in enumerate(text.splitlines(), 1)
                if line.strip()
            ]
        for i, row in enumerate(rows, 1):
            name = _first(row, FILE_FIELDS)
            if not isinstance(name, str) or not name:
                raise InputError(f"{where}: row {i} has no image file name (one of {', '.join(FILE_FIELDS)})")
            caption, problem = self._caption(_first(row, TEXT_FIELDS))
            uid = uid_of(shard, name, row.get(UID_COLUMN))
            yield RawSample(
                key=name,
                uid=uid.uid,
                text=caption,
                url=row.get("url") or None,
                image_path=self._relative(path, name),
                problem=problem,
                uid_reason=uid.reason,
            )

    def _images(self, shard: str, root: str) -> Iterator[RawSample]:
        for path in sorted(self.fs.find(root)):
            if path.lower().rsplit(".", 1)[-1] in IMAGE_EXTENSIONS:
                key = posixpath.relpath(path, root) if "://" not in path else path
                yield RawSample(key=key, uid=derived_uid(shard, key), text=None, image_path=path)


@RAW_INPUTS.register("parquet")
class ParquetInput(RawInput):
    """Parquet files with image bytes (binary, or a ``{bytes, path}`` struct) or image paths, a caption
    column and optional ``uid``/``url``/``key``; each file is one shard."""

    kind = "parquet"

    def _list(self) -> dict[str, str]:
        return self._by_stem(self._find((".parquet",)), (".parquet",))

    def samples(self, shard: str) -> Iterator[RawSample]:
        path = self.paths[shard]
        where = display(self.fs, path)
        with open_input(self.fs, path) as fh:
            pfile = pq.ParquetFile(fh)
            names = pfile.schema_arrow.names
            image_col = next((c for c in BYTES_FIELDS if c in names), None)
            path_col = next((c for c in FILE_FIELDS if c in names), None)
            if image_col is None and path_col is None:
                raise InputError(
                    f"{where}: no image column; expected one of {', '.join(BYTES_FIELDS + FILE_FIELDS)}; "
                    f"found {', '.join(names)}"
                )
            size = sum(pfile.metadata.row_group(i).total_byte_size for i in range(pfile.num_row_groups))
            if size > self.limits.max_shard_bytes:
                raise InputError(
                    f"{where}: {size} bytes uncompressed, "
                    f"more than {self.limits.max_shard_bytes} (max_shard_bytes)"
                )
            row = 0
            for batch in pfile.iter_batches(batch_size=1024):
                for record in batch.to_pylist():
                    key = str(record["key"]) if record.get("key") is not None else f"{row:09d}"
                    value: Any = record.get(image_col) if image_col else None
                    image, image_path = value, None
                    if isinstance(value, dict):
                        image, image_path = value.get("bytes"), value.get("path")
                    image, too_large = self._image_cell(image)
                    if image is None and not too_large and path_col is not None and record.get(path_col):
                        image_path = record[path_col]
                    uid = uid_of(shard, key, record.get(UID_COLUMN))
                    caption, problem = self._caption(_first(record, TEXT_FIELDS))
                    yield RawSample(
                        key=key,
                        uid=uid.uid,
                        text=caption,
                        url=record.get("url"),
                        image=image,
                        image_path=self._relative(path, image_path)
                        if image_path and image is None and not too_large
                        else None,
                        problem=too_large or problem,
                        uid_reason=uid.reason,
                    )
                    row += 1


def open_raw_input(url: str, kind: str = "auto", limits: ReadLimits | None = None) -> RawInput:
    """Open ``url`` as the given input format, or detect it (tars, parquet, else a folder)."""
    if kind == "auto":
        kind = detect_kind(url)
    return RAW_INPUTS.get(kind)(url, limits)


def detect_kind(url: str) -> str:
    fs, root = resolve(url)
    if not fs.exists(root):
        raise InputError(f"input {url}: no such file or directory")
    names = [root] if fs.isfile(root) else fs.find(root, maxdepth=1)
    lowered = [n.lower() for n in names]
    if any(n.endswith(TAR_SUFFIXES) for n in lowered):
        return "webdataset"
    if any(n.endswith(".parquet") for n in lowered):
        return "parquet"
    return "folder"


def _json(data: bytes | None, where: str) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected a JSON object, found {type(value).__name__}")
    return value


def _first(row: dict[str, Any], fields: tuple[str, ...]) -> Any:
    return next((row[f] for f in fields if row.get(f) is not None), None)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
