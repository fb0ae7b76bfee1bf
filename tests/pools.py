"""Tiny DataComp-layout and parquet pools written in code (METHODS.md §6)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def hex_uids(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct random 32-hex uids."""
    rng = np.random.default_rng([seed, 17])
    words = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    uids = [f"{int(hi):016x}{int(lo):016x}" for hi, lo in words]
    assert len(set(uids)) == n
    return uids


def unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``(n, dim)`` float32 random unit vectors."""
    x = np.random.default_rng([seed, 23]).standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def metadata_table(uids: Sequence[str | None]) -> pa.Table:
    """A DataComp metadata table: ``uid`` plus a caption column."""
    return pa.table(
        {
            "uid": pa.array(list(uids), pa.string()),
            "text": pa.array([f"caption {i}" for i in range(len(uids))], pa.string()),
        }
    )


def write_shard(
    directory: Path,
    name: str,
    uids: Sequence[str | None],
    arrays: dict[str, np.ndarray],
) -> None:
    """Write ``name.parquet`` (uids) and ``name.npz`` (the given arrays) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.parquet").write_bytes(parquet_bytes(metadata_table(uids)))
    (directory / f"{name}.npz").write_bytes(npz_bytes(**arrays))


def family_arrays(
    image: np.ndarray, text: np.ndarray, family: str = "l14", dtype: str = "float32"
) -> dict[str, np.ndarray]:
    return {f"{family}_img": image.astype(dtype), f"{family}_txt": text.astype(dtype)}


def make_pool(
    directory: Path,
    *,
    shards: int = 2,
    rows: int = 50,
    dim: int = 16,
    dtype: str = "float32",
    family: str = "l14",
    seed: int = 0,
) -> Path:
    """A DataComp-layout pool of ``shards`` pairs ``NNNNNNNN.parquet`` + ``NNNNNNNN.npz``.

    Texts are noisy copies of their images so that scores are spread out but related.
    """
    for i in range(shards):
        image = unit_rows(rows, dim, seed=seed * 1000 + 2 * i)
        noise = unit_rows(rows, dim, seed=seed * 1000 + 2 * i + 1)
        text = image + 0.8 * noise
        text /= np.linalg.norm(text, axis=1, keepdims=True)
        uids = hex_uids(rows, seed=seed * 1000 + i)
        write_shard(directory, f"{i:08d}", uids, family_arrays(image, text, family, dtype))
    return directory


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def read_uids(path: Path) -> list[str]:
    return pq.read_table(path, columns=["uid"]).column("uid").to_pylist()
