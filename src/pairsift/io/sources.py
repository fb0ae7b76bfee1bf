"""Pool sources: each yields one :class:`EmbeddingBatch` per shard, loading only what is asked for.

- ``datacomp``: a directory (or fsspec URL) of ``NAME.parquet`` + ``NAME.npz`` pairs (METHODS.md §6).
- ``parquet``: parquet files with a uid column and two list<float> embedding columns.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairsift.data import (
    ALT_TEXT,
    IMAGE,
    TEXT,
    UID_COLUMN,
    EmbeddingBatch,
    PoolReader,
    image_key,
    metadata_columns,
    text_key,
)
from pairsift.errors import InputError
from pairsift.io.arrays import check_matrix, list_column_to_matrix, widen_empty
from pairsift.io.fs import display, join, open_input, resolve
from pairsift.params import check_types
from pairsift.registry import Registry
from pairsift.uids import check_uid_type

logger = logging.getLogger(__name__)

SOURCES: Registry[type[Source]] = Registry("source")

#: the record ``pairsift embed`` writes into a pool folder (model, family, dtype, the raw input)
POOL_MANIFEST = "embed.json"


@dataclass(frozen=True)
class SourceConfig:
    """Where shards come from. ``kind`` is a source registry name, or ``auto``."""

    kind: str = "auto"
    uid_column: str = UID_COLUMN
    image_column: str = "image_embedding"
    text_column: str = "text_embedding"
    alt_text_column: str = "text"  #: the caption string (SIEVE reads it), in both source kinds

    def __post_init__(self) -> None:
        check_types(self, "source")


class Source(PoolReader):
    """A pool of shards. Constructors check the layout; :meth:`read` checks one shard's content."""

    def __init__(self, url: str, family: str, config: SourceConfig) -> None:
        self.url = url
        self.family = family
        self.config = config
        self.fs, self.root = resolve(url)
        if not self.fs.exists(self.root):
            raise InputError(f"pool {url}: no such file or directory")

    def where(self, name: str) -> str:
        return display(self.fs, join(self.fs, self.root, name))

    def _files(self, suffix: str) -> list[str]:
        if self.fs.isfile(self.root):
            return [self.root] if self.root.endswith(suffix) else []
        return sorted(p for p in self.fs.find(self.root, maxdepth=1) if p.endswith(suffix))

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What run.json records about the source."""

    def _read_uids(
        self, path: str, requires: frozenset[str]
    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        """The uid column, the alt-text column when ``requires`` asks for it, and the metadata columns
        it asks for (numeric, in their own dtype)."""
        c = self.config
        extra = metadata_columns(requires)
        columns = [c.uid_column] + ([c.alt_text_column] if ALT_TEXT in requires else []) + extra
        table = self._read_parquet(path, list(dict.fromkeys(columns)))
        uids = uid_values(table, c.uid_column, display(self.fs, path))
        alt = table.column(c.alt_text_column).to_pylist() if ALT_TEXT in requires else None
        values = {name: numeric_column(table, name, display(self.fs, path)) for name in extra}
        return uids, None if alt is None else np.asarray(alt, dtype=object), values

    def _read_parquet(self, path: str, columns: list[str]) -> Any:
        with open_input(self.fs, path) as fh:
            try:
                schema = pq.read_schema(fh)
                missing = [c for c in columns if c not in schema.names]
                if missing:
                    raise InputError(
                        f"{display(self.fs, path)}: missing column(s) {missing}; found {schema.names}"
                    )
                fh.seek(0)
                table = pq.read_table(fh, columns=columns)
                table.validate(full=True)  # e.g. strings that are not UTF-8 (parquet does not check)
                return table
            except InputError:
                raise
            except Exception as exc:  # pyarrow raises several types for corrupt files
                raise InputError(f"{display(self.fs, path)}: cannot read parquet: {exc}") from exc


@SOURCES.register("datacomp")
class DataCompSource(Source):
    """DataComp metadata: one parquet (with ``uid``) and one npz (``<family>_img/_txt``) per shard."""

    def __init__(self, url: str, family: str, config: SourceConfig) -> None:
        super().__init__(url, family, config)
        parquets = self._files(".parquet")
        npzs = {p[: -len(".npz")] for p in self._files(".npz")}
        if not parquets:
            raise InputError(f"pool {url}: no .parquet files found")
        missing = [p for p in parquets if p[: -len(".parquet")] not in npzs]
        if missing:
            raise InputError(
                f"{display(self.fs, missing[0])}: no embeddings file "
                f"{display(self.fs, missing[0][: -len('.parquet')] + '.npz')} beside it"
                + (f" (and {len(missing) - 1} more parquet files without npz)" if len(missing) > 1 else "")
            )
        self._stems = {self._name(p): p[: -len(".parquet")] for p in parquets}

    @staticmethod
    def _name(path: str) -> str:
        return path.replace("\\", "/").rsplit("/", 1)[-1][: -len(".parquet")]

    def shards(self) -> list[str]:
        return sorted(self._stems)

    def describe(self) -> dict[str, Any]:
        return {"kind": "datacomp", "url": self.url, "family": self.family}

    def read(self, shard: str, requires: frozenset[str]) -> EmbeddingBatch:
        stem = self._stems[shard]
        uids, alt_text, columns = self._read_uids(stem + ".parquet", requires)
        wanted = {IMAGE: image_key(self.family), TEXT: text_key(self.family)}
        keys = [wanted[m] for m in (IMAGE, TEXT) if m in requires]
        arrays = self._read_npz(stem + ".npz", keys, len(uids)) if keys else {}
        image, text = arrays.get(wanted[IMAGE]), arrays.get(wanted[TEXT])
        return EmbeddingBatch.build(shard, uids, image=image, text=text, alt_text=alt_text, columns=columns)

    def _read_npz(self, path: str, keys: list[str], rows: int) -> dict[str, np.ndarray]:
        where = display(self.fs, path)
        out: dict[str, np.ndarray] = {}
        with open_input(self.fs, path) as fh:
            try:
                npz = np.load(fh, allow_pickle=False)
            except Exception as exc:
                raise InputError(f"{where}: cannot read npz: {exc}") from exc
            with npz:
                for key in keys:
                    if key not in npz.files:
                        raise InputError(
                            f"{where}: no key {key!r} (embeddings family {self.family!r}); "
                            f"keys found: {sorted(npz.files)}"
                        )
                    try:
                        member = npz[key]
                    except Exception as exc:  # zip CRC errors, bad headers, object arrays
                        raise InputError(f"{where}[{key}]: cannot read: {exc}") from exc
                    try:
                        out[key] = check_matrix(member, f"{where}[{key}]", rows)
                    except ValueError as exc:
                        raise InputError(str(exc)) from exc
        dims = {k: a.shape[1] for k, a in out.items()}
        if len(set(dims.values())) > 1:
            raise InputError(f"{where}: image and text embeddings differ in dimension: {dims}")
        return out


@SOURCES.register("parquet")
class ParquetSource(Source):
    """Parquet files (one shard each) with a uid column and two embedding columns."""

    def __init__(self, url: str, family: str, config: SourceConfig) -> None:
        super().__init__(url, family, config)
        files = self._files(".parquet")
        if not files:
            raise InputError(f"pool {url}: no .parquet files found")
        self._paths = {p.replace("\\", "/").rsplit("/", 1)[-1][: -len(".parquet")]: p for p in files}

    def shards(self) -> list[str]:
        return sorted(self._paths)

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {
            "kind": "parquet",
            "url": self.url,
            "uid_column": c.uid_column,
            "image_column": c.image_column,
            "text_column": c.text_column,
            "alt_text_column": c.alt_text_column,
        }

    def read(self, shard: str, requires: frozenset[str]) -> EmbeddingBatch:
        path = self._paths[shard]
        c = self.config
        wanted = {IMAGE: c.image_column, TEXT: c.text_column}
        columns = [c.uid_column] + [wanted[m] for m in (IMAGE, TEXT) if m in requires]
        if ALT_TEXT in requires:
            columns.append(c.alt_text_column)
        columns += metadata_columns(requires)
        table = self._read_parquet(path, list(dict.fromkeys(columns)))
        where = display(self.fs, path)
        mats: dict[str, np.ndarray] = {}
        for modality in (IMAGE, TEXT):
            if modality in requires:
                try:
                    mats[modality] = list_column_to_matrix(
                        table.column(wanted[modality]), f"{where}[{wanted[modality]}]"
                    )
                except ValueError as exc:
                    raise InputError(str(exc)) from exc
        mats = widen_empty(mats)
        if IMAGE in mats and TEXT in mats and mats[IMAGE].shape[1] != mats[TEXT].shape[1] and len(table):
            raise InputError(
                f"{where}: image and text embeddings differ in dimension: "
                f"{mats[IMAGE].shape[1]} vs {mats[TEXT].shape[1]}"
            )
        uids = uid_values(table, c.uid_column, where)
        alt = (
            np.asarray(table.column(c.alt_text_column).to_pylist(), dtype=object)
            if ALT_TEXT in requires
            else None
        )
        values = {name: numeric_column(table, name, where) for name in metadata_columns(requires)}
        return EmbeddingBatch.build(
            shard, uids, image=mats.get(IMAGE), text=mats.get(TEXT), alt_text=alt, columns=values
        )


def uid_values(table: Any, name: str, where: str) -> np.ndarray:
    """The uid column as an object array of str (None where null); not strings is an error naming it."""
    column = table.column(name)
    check_uid_type(column.type, where, name)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def numeric_column(table: Any, name: str, where: str) -> np.ndarray:
    """A numeric metadata column as a float array in its own precision (nulls become NaN)."""
    column = table.column(name)
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        raise InputError(f"{where}: column {name!r} is {column.type}; a score column must be numeric")
    single = pa.types.is_float32(column.type) or pa.types.is_float16(column.type)
    dtype = np.float32 if single else np.float64
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=dtype)


def open_source(url: str, family: str, config: SourceConfig | None = None) -> Source:
    """Build the configured source, detecting the kind when it is ``auto``."""
    config = config or SourceConfig()
    kind = config.kind
    if kind == "auto":
        kind = detect_kind(url)
        logger.info("pool %s: detected a %s source", url, kind)
    return SOURCES.get(kind)(url, family, config)


def detect_kind(url: str) -> str:
    """``datacomp`` when npz files sit beside the parquet files, else ``parquet``."""
    fs, root = resolve(url)
    if not fs.exists(root):
        raise InputError(f"pool {url}: no such file or directory")
    if fs.isfile(root):
        return "parquet"
    names = [p for p in fs.find(root, maxdepth=1)]
    return "datacomp" if any(p.endswith(".npz") for p in names) else "parquet"
