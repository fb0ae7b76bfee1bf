"""Embedding matrices out of Arrow list columns and npz members, with errors that say where."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def list_column_to_matrix(column: pa.ChunkedArray | pa.Array, where: str) -> np.ndarray:
    """A fixed-size or variable list<float> column as an ``(n, d)`` float32 matrix.

    Null rows become NaN rows (and so get a ``nan_*`` status); rows of another length are an error.
    When no row holds a value, the matrix has 0 columns: see :func:`widen_empty`.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], pa.list_(pa.float32()))
    n = len(column)
    if not (
        pa.types.is_list(column.type)
        or pa.types.is_large_list(column.type)
        or pa.types.is_fixed_size_list(column.type)
    ):
        raise ValueError(f"{where}: expected a list of floats per row, found type {column.type}")
    if not (pa.types.is_floating(column.type.value_type) or pa.types.is_integer(column.type.value_type)):
        raise ValueError(f"{where}: expected a list of floats per row, found type {column.type}")
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    present = lengths > 0
    rows = np.flatnonzero(present)
    dim = int(lengths[rows[0]]) if len(rows) else 0
    odd = rows[lengths[rows] != dim]
    if len(odd):
        raise ValueError(
            f"{where}: rows have different embedding lengths; row {int(rows[0])} has {dim}, "
            f"row {int(odd[0])} has {int(lengths[odd[0]])}"
        )
    out = np.full((n, dim), np.nan, dtype=np.float32)
    if dim and present.any():
        values = pc.list_flatten(column.filter(pa.array(present))).to_numpy(zero_copy_only=False)
        out[present] = np.asarray(values, dtype=np.float32).reshape(-1, dim)
    return out


def widen_empty(matrices: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Give 0-column matrices (all rows null) the width of the others, filled with NaN."""
    width = max((m.shape[1] for m in matrices.values()), default=0) or 1
    return {k: m if m.shape[1] else np.full((len(m), width), np.nan, np.float32) for k, m in matrices.items()}


def check_matrix(array: np.ndarray, where: str, rows: int | None = None) -> np.ndarray:
    """A 2-D float matrix, optionally with a given number of rows."""
    if not isinstance(array, np.ndarray):  # an npz member without a .npy header loads as bytes
        raise ValueError(f"{where}: not a .npy array (no .npy header)")
    if array.ndim != 2:
        raise ValueError(f"{where}: expected a 2-D (rows, dim) array, found shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{where}: expected float16/float32 embeddings, found dtype {array.dtype}")
    if rows is not None and array.shape[0] != rows:
        raise ValueError(f"{where}: has {array.shape[0]} rows but the metadata has {rows}")
    return array
