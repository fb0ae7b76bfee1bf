"""``embed``: raw image–text shards -> a DataComp-layout pool; ``embed_targets``: images -> a target ``.npy``.

Per input shard ``S`` the pool gets ``OUT/S.npz`` (``<family>_img``, ``<family>_txt``, L2-normalised,
NaN rows where an image or caption could not be embedded) and then ``OUT/S.parquet`` (``uid``, ``key``,
``text``, ``url``, ``original_width``, ``original_height``, ``status``, the family's similarity column),
each written atomically. An image-only model (a copy detector: ``Encoder.has_text`` False) gives only
``<family>_img`` and no similarity column. The parquet is the completion marker: a rerun skips shards
whose parquet exists.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from pairsift.data import STATUS_COLUMN, UID_COLUMN, image_key, normalize_rows, text_key
from pairsift.device import Compute
from pairsift.engines import EngineConfig
from pairsift.errors import ConfigError
from pairsift.io.decoders import decoding_workers
from pairsift.io.fs import atomic_write
from pairsift.io.images import Chunk, ShardBatches, chunk_loader
from pairsift.io.limits import ReadLimits, coerce_limits
from pairsift.io.location import Location, output_path
from pairsift.io.raw import DEFAULT_MAX_PIXELS, RawInput, open_raw_input
from pairsift.io.sources import POOL_MANIFEST
from pairsift.models.encoders import Encoder, load_encoder
from pairsift.models.ids import parse_model_id
from pairsift.progress import track
from pairsift.scorers.clip_score import own_similarity
from pairsift.stages.base import ShardReport, Summary, check_reading_options, run_raw_stage

logger = logging.getLogger(__name__)

DTYPES = ("float16", "float32")


@dataclass(frozen=True)
class EmbedConfig:
    """What ``pairsift embed`` does; the same names as its options."""

    input: str
    output: str
    model: str
    family: str | None = None  #: npz key prefix; default from the model id (``family_of``)
    input_format: str = "auto"  #: ``auto``, ``webdataset``, ``folder`` or ``parquet``
    batch_size: int = 256
    device: str = "auto"
    precision: str = "fp32"
    #: DataLoader decoding processes per shard task (0: in the task; None: 0 on CPU, 2 on GPU)
    num_workers: int | None = None
    prefetch: int = 2  #: chunks prefetched per DataLoader worker
    max_pixels: int = DEFAULT_MAX_PIXELS
    dtype: str = "float16"  #: npz storage precision
    engine: EngineConfig = field(default_factory=EngineConfig)  #: where shards run (stage ``embed``)
    limits: ReadLimits = field(
        default_factory=ReadLimits
    )  #: byte caps of every read (recorded in embed.json)

    def __post_init__(self) -> None:
        coerce_limits(self)
        check_reading_options(self)
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        parse_model_id(self.model)

    @property
    def embedding_family(self) -> str:
        return self.family or parse_model_id(self.model).family


class EmbedShardTask:
    """Embed one raw shard and write its parquet + npz. Picklable; the model loads in :meth:`setup`.

    ``encoder`` (optional) is an already-built encoder used in this process; worker processes load
    ``config.model`` themselves.
    """

    def __init__(self, config: EmbedConfig, *, encoder: Encoder | None = None) -> None:
        self.config = config
        self.encoder_ = encoder

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_")}

    def setup(self) -> None:
        c = self.config
        encoder = getattr(self, "encoder_", None)
        if encoder is None:
            encoder = load_encoder(c.model, Compute.resolve(c.device, c.precision))
        self.encoder_ = encoder
        self.input_ = open_raw_input(c.input, c.input_format, c.limits)
        self.dims_ = encoder.dims()
        check_family(c.embedding_family, self.dims_, c.model)

    def __call__(self, shard: str) -> ShardReport:
        start = time.perf_counter()
        c, encoder = self.config, self.encoder_
        assert encoder is not None, "setup() was not called"
        with_text = encoder.has_text
        chunks = embed_chunks(self.input_, shard, encoder, c, with_text=with_text)
        meta: dict[str, list[Any]] = {
            k: [] for k in (UID_COLUMN, "key", "text", "url", "width", "height", STATUS_COLUMN)
        }
        images, texts, image_rows = [], [], []
        for chunk, img, txt in chunks:
            for name, values in zip(meta, _columns(chunk), strict=True):
                meta[name].extend(values)
            images.append(_full(len(chunk.keys), self.dims_[0], chunk.image_rows, img))
            image_rows.append(chunk.image_rows)
            if with_text:
                texts.append(_full(len(chunk.keys), self.dims_[1], chunk.text_rows, txt))
        dtype = np.dtype(c.dtype)
        family = c.embedding_family
        arrays = {image_key(family): _stack(images, self.dims_[0]).astype(dtype)}
        if with_text:
            arrays[text_key(family)] = _stack(texts, self.dims_[1]).astype(dtype)
        out = output_path(c.output)
        atomic_write(out / f"{shard}.npz", lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]
        table = _table(meta)
        if with_text:  # the family's CLIPScore column, as DataComp's parquet has it
            score = similarity(arrays[image_key(family)], arrays[text_key(family)])
            table = table.append_column(similarity_column(family), pa.array(score))
        atomic_write(out / f"{shard}.parquet", lambda fh: pq.write_table(table, fh))
        statuses = Counter(meta[STATUS_COLUMN])
        images_done = sum(len(chunk_rows) for chunk_rows in image_rows)
        return ShardReport(
            shard, len(meta[UID_COLUMN]), dict(statuses), time.perf_counter() - start, images_done
        )


def embed_chunks(
    source: RawInput, shard: str, encoder: Encoder, c: EmbedConfig | TargetOptions, *, with_text: bool
) -> Iterator[tuple[Chunk, np.ndarray | None, np.ndarray | None]]:
    """Yield ``(chunk, image embeddings of chunk.image_rows, text embeddings of chunk.text_rows)``."""
    preprocess, tokenize = encoder.transforms()
    dataset = ShardBatches(
        source,
        shard,
        preprocess=preprocess,
        tokenize=tokenize if with_text else None,
        batch_size=c.batch_size,
        max_pixels=c.max_pixels,
    )
    pin = encoder.device.type == "cuda"
    workers = decoding_workers(c.num_workers, encoder.device)
    for chunk in chunk_loader(dataset, num_workers=workers, prefetch=c.prefetch, pin_memory=pin):
        img = encoder.encode_image(chunk.pixels).numpy() if chunk.pixels is not None else None
        txt = encoder.encode_text(chunk.tokens).numpy() if chunk.tokens is not None else None
        yield chunk, img, txt


def _columns(chunk: Chunk) -> tuple[list[Any], ...]:
    return chunk.uids, chunk.keys, chunk.texts, chunk.urls, chunk.widths, chunk.heights, chunk.status


def _full(n: int, dim: int, rows: list[int], values: np.ndarray | None) -> np.ndarray:
    out = np.full((n, dim), np.nan, dtype=np.float32)
    if values is not None:
        out[rows] = values
    return out


#: DataComp's embedding families and their width (OpenAI ViT-L/14 and ViT-B/32)
DATACOMP_DIMS = {"l14": 768, "b32": 512}


def check_family(family: str, dims: tuple[int, int], model: str) -> None:
    """A family that DataComp names (``l14``, ``b32``) must hold embeddings of DataComp's width."""
    expected = DATACOMP_DIMS.get(family)
    if expected is not None and dims != (expected, expected):
        raise ConfigError(
            f"--family {family} is DataComp's name for {expected}-d OpenAI CLIP embeddings, but {model} "
            f"embeds into {dims[0]}-d (image) / {dims[1]}-d (text); choose another family name"
        )


def similarity_column(family: str) -> str:
    """DataComp's metadata column of a family's CLIPScore: ``clip_l14_similarity_score``."""
    return f"clip_{family}_similarity_score"


def similarity(image: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Each row's CLIPScore from the embeddings as stored, computed exactly as the ``clip_score`` scorer
    computes it (rows renormalised in float32), as float64 like DataComp's metadata; NaN where either
    embedding is missing or zero. So the column and ``clip_score`` cut a pool at the same rows."""
    f, f_finite, f_nonzero = normalize_rows(image)
    g, g_finite, g_nonzero = normalize_rows(text)
    values = own_similarity(torch.from_numpy(f), torch.from_numpy(g)).numpy().astype(np.float64)
    values[~(f_finite & f_nonzero & g_finite & g_nonzero)] = np.nan
    return values


def _stack(parts: list[np.ndarray], dim: int) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)


def _table(meta: dict[str, list[Any]]) -> pa.Table:
    return pa.table(
        {
            UID_COLUMN: pa.array(meta[UID_COLUMN], pa.string()),
            "key": pa.array(meta["key"], pa.string()),
            "text": pa.array(meta["text"], pa.string()),
            "url": pa.array(meta["url"], pa.string()),
            "original_width": pa.array(meta["width"], pa.int32()),
            "original_height": pa.array(meta["height"], pa.int32()),
            STATUS_COLUMN: pa.array(meta[STATUS_COLUMN], pa.string()),
        }
    )


def embed(config: EmbedConfig, *, encoder: Encoder | None = None) -> Summary:
    """Embed every input shard not yet in ``config.output``; failed shards are reported, not fatal."""
    if (batch_size := config.engine.stage("embed").batch_size) is not None:
        config = replace(config, batch_size=batch_size)
    summary = run_raw_stage(
        EmbedShardTask(config, encoder=encoder),
        config,
        lambda out: _check_manifest(out, config),
        stage="embed",
        doing="embedding",
    )
    counts = ", ".join(f"{k}={v}" for k, v in summary.statuses.items()) or "nothing new"
    logger.info(
        "embedded %d rows in %d shards (%.1fs): %s", summary.rows, summary.processed, summary.seconds, counts
    )
    return summary


def _check_manifest(out: Location, config: EmbedConfig) -> None:
    """``OUT/embed.json`` records what the pool holds; a rerun with another model or family is refused."""
    record = {"model": config.model, "family": config.embedding_family, "dtype": config.dtype}
    path = out / POOL_MANIFEST
    if path.exists():
        previous = json.loads(path.read_text())
        fixed = {k: previous.get(k) for k in record}
        if fixed != record:
            raise ConfigError(f"{path}: this pool was embedded with {fixed}, not {record}; use another -o")
        return
    content = json.dumps({**record, "config": asdict(config)}, indent=2).encode()
    atomic_write(path, lambda fh: fh.write(content))


@dataclass(frozen=True)
class TargetOptions:
    """Options of ``embed_targets`` (a subset of :class:`EmbedConfig`)."""

    batch_size: int = 256
    num_workers: int | None = None  #: see EmbedConfig.num_workers
    prefetch: int = 2
    max_pixels: int = DEFAULT_MAX_PIXELS
    input_format: str = "auto"
    limits: ReadLimits = field(default_factory=ReadLimits)

    def __post_init__(self) -> None:
        coerce_limits(self)


def embed_targets(
    input: str,
    output: str | Path,
    model: str,
    *,
    device: str = "auto",
    precision: str = "fp32",
    options: TargetOptions | None = None,
    encoder: Encoder | None = None,
) -> dict[str, int]:
    """Embed every image of ``input`` into ``output`` (``.npy``, float32 unit rows, input order).

    Images that cannot be embedded are left out and counted; returns the counts per status.
    """
    options = options or TargetOptions()
    encoder = encoder or load_encoder(model, Compute.resolve(device, precision))
    source = open_raw_input(input, options.input_format, options.limits)
    parts: list[np.ndarray] = []
    statuses: Counter[str] = Counter()
    for shard in track(source.shards(), "embedding targets"):
        for chunk, img, _ in embed_chunks(source, shard, encoder, options, with_text=False):
            statuses.update(chunk.status)
            if img is not None:
                parts.append(img.astype(np.float32))
    if not parts:
        raise ConfigError(f"{input}: no image could be embedded ({dict(statuses)})")
    targets = np.concatenate(parts)
    atomic_write(output_path(output), lambda fh: np.save(fh, targets))
    logger.info("wrote %d target rows to %s: %s", len(targets), output, dict(sorted(statuses.items())))
    return dict(sorted(statuses.items()))
