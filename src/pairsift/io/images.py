"""Decoding raw samples into model inputs, in DataLoader worker processes, with per-row statuses.

:class:`ShardBatches` streams one shard in chunks of ``batch_size`` rows; with ``W`` workers, worker
``w`` decodes chunks ``w, w + W, …`` and the DataLoader's round-robin returns them in input order.
Every worker streams the whole shard (tar bytes are read ``W`` times; folder and parquet-path images
only by their own worker).

A shard that cannot be read to its end (a truncated tar, a tar bomb) is a shard error, never a worker
traceback: the worker sends the error as a chunk and :func:`chunk_loader` raises it, one line naming the
file, after shutting its workers down. The rows before the damage are not written: the shard's marker
would make a partial shard look finished.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pairsift.data import (
    CAPTION_TOO_LARGE,
    MALFORMED_METADATA,
    MEMBER_TOO_LARGE,
    OK,
    UNSAFE_MEMBER,
)
from pairsift.errors import InputError
from pairsift.io.raw import IMAGE_TOO_LARGE, ImageTooLarge, RawInput, RawSample
from pairsift.io.sample_uids import BROKEN

# --- per-row statuses of an embedding run (in the order they are checked) ----------------------
MISSING_IMAGE = "missing_image"
CORRUPT_IMAGE = "corrupt_image"
EMPTY_CAPTION = "empty_caption"
EMBED_STATUSES = (
    OK,
    UNSAFE_MEMBER,
    MEMBER_TOO_LARGE,
    IMAGE_TOO_LARGE,
    CAPTION_TOO_LARGE,
    MISSING_IMAGE,
    CORRUPT_IMAGE,
    EMPTY_CAPTION,
    MALFORMED_METADATA,
)


def decode_image(
    data: bytes | None, max_pixels: int
) -> tuple[Image.Image | None, str, int | None, int | None]:
    """``(RGB image or None, status, width, height)``; the size is read from the header before decoding."""
    if data is None:
        return None, MISSING_IMAGE, None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                return None, IMAGE_TOO_LARGE, width, height
            image.load()
            return image.convert("RGB"), OK, width, height
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, IMAGE_TOO_LARGE, None, None
    except Exception:  # any decoder failure is this row's problem, never the shard's
        return None, CORRUPT_IMAGE, None, None


@dataclass
class Chunk:
    """Up to ``batch_size`` decoded rows; ``pixels`` and ``tokens`` hold only the rows listed in
    ``image_rows`` and ``text_rows``."""

    index: int
    keys: list[str] = field(default_factory=list)
    uids: list[str] = field(default_factory=list)
    texts: list[str | None] = field(default_factory=list)
    urls: list[str | None] = field(default_factory=list)
    widths: list[int | None] = field(default_factory=list)
    heights: list[int | None] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    image_rows: list[int] = field(default_factory=list)
    text_rows: list[int] = field(default_factory=list)
    pixels: torch.Tensor | None = None
    tokens: torch.Tensor | None = None
    error: str | None = None  #: the shard could not be read on (sent by a worker; no rows)

    def pin_memory(self) -> Chunk:
        """Called by the DataLoader's pinning thread (``pin_memory=True``)."""
        if self.pixels is not None:
            self.pixels = self.pixels.pin_memory()
        return self


class ShardBatches(IterableDataset[Chunk]):
    """One shard as decoded, preprocessed and tokenized chunks."""

    def __init__(
        self,
        source: RawInput,
        shard: str,
        *,
        preprocess: Callable[[Image.Image], torch.Tensor],
        tokenize: Callable[[list[str]], torch.Tensor] | None,
        batch_size: int,
        max_pixels: int,
    ) -> None:
        self.source = source
        self.shard = shard
        self.preprocess = preprocess
        self.tokenize = tokenize
        self.batch_size = batch_size
        self.max_pixels = max_pixels

    def __iter__(self) -> Iterator[Chunk]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        pending: list[RawSample] = []
        index = 0
        samples = self.source.samples(self.shard)
        while True:
            try:
                sample = next(samples, None)
            except InputError as exc:  # sent as data: an exception would cross the process as a traceback
                yield Chunk(index, error=str(exc))
                return
            if sample is None:
                break
            pending.append(sample)
            if len(pending) == self.batch_size:
                if index % workers == worker:
                    yield self._chunk(index, pending)
                pending, index = [], index + 1
        if pending and index % workers == worker:
            yield self._chunk(index, pending)

    def _chunk(self, index: int, samples: list[RawSample]) -> Chunk:
        chunk = Chunk(index)
        pixels = []
        for row, sample in enumerate(samples):
            problem = sample.problem
            try:
                data = self.source.image_bytes(sample)
            except ImageTooLarge:
                data, problem = None, problem or IMAGE_TOO_LARGE
            except (InputError, OSError):  # a listed image that cannot be read
                data = None
            image, status, width, height = decode_image(data, self.max_pixels)
            if image is not None:
                pixels.append(self.preprocess(image))
                chunk.image_rows.append(row)
            caption = (sample.text or "").strip()
            if caption:
                chunk.text_rows.append(row)
            elif status == OK and self.tokenize is not None:
                status = EMPTY_CAPTION
            if problem is not None:  # a member that was not read says more than what it left missing
                status = problem
            elif status == OK and sample.uid_reason in BROKEN:
                status = MALFORMED_METADATA
            chunk.keys.append(sample.key)
            chunk.uids.append(sample.uid)
            chunk.texts.append(sample.text)
            chunk.urls.append(sample.url)
            chunk.widths.append(sample.width if sample.width is not None else width)
            chunk.heights.append(sample.height if sample.height is not None else height)
            chunk.status.append(status)
        if pixels:
            chunk.pixels = torch.stack(pixels)
        if self.tokenize is not None and chunk.text_rows:
            chunk.tokens = self.tokenize([samples[r].text or "" for r in chunk.text_rows])
        return chunk


def _identity(chunk: Any) -> Any:
    return chunk


def chunk_loader(
    dataset: ShardBatches, *, num_workers: int, prefetch: int, pin_memory: bool
) -> Iterator[Chunk]:
    """Chunks of one shard in input order, decoded by ``num_workers`` processes (0: in this one)."""
    options: dict[str, Any] = {"prefetch_factor": prefetch} if num_workers > 0 else {}
    if num_workers > 0 and sys.platform == "linux":
        # fork, also inside spawned engine workers (whose default would re-import torch per worker);
        # the children only decode on the CPU, so a CUDA context in the parent is not touched
        options["multiprocessing_context"] = "fork"
    loader = DataLoader(
        dataset,
        batch_size=None,
        num_workers=num_workers,
        collate_fn=_identity,
        pin_memory=pin_memory,
        **options,
    )
    chunks = iter(loader)
    try:
        for expected, chunk in enumerate(chunks):
            if chunk.error is not None:
                raise InputError(chunk.error)
            if chunk.index != expected:  # the round-robin contract broke: never write rows out of order
                raise RuntimeError(f"shard {dataset.shard}: chunk {chunk.index} arrived, expected {expected}")
            yield chunk
    finally:
        # stop the workers here and now: an iterator left to the garbage collector may be collected in a
        # process forked later (the next shard's workers), which then fails with "can only test a child"
        shutdown = getattr(chunks, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
