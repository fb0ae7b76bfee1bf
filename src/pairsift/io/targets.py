"""Target image embeddings for NormSim: npy, npz (by key), parquet (list column) or safetensors."""

from __future__ import annotations

import io
from pathlib import PurePosixPath

import numpy as np
import pyarrow.parquet as pq

from pairsift.data import UID_COLUMN, image_key, normalize_rows
from pairsift.errors import InputError
from pairsift.io.arrays import check_matrix, list_column_to_matrix
from pairsift.io.fs import display, open_input, resolve


def load_targets(url: str, *, key: str | None = None, family: str | None = None) -> np.ndarray:
    """Load an ``(N, d)`` target matrix as unit-norm float32 rows.

    ``key`` names the npz/safetensors member or parquet column. Without it, a file holding a single
    array uses that one, and one holding ``<family>_img`` uses that; anything else is an error that
    lists what the file holds. Non-finite or zero rows are an error naming the row.
    """
    fs, path = resolve(url)
    where = display(fs, path)
    if not fs.exists(path):
        raise InputError(f"target file {where}: no such file")
    with open_input(fs, path) as fh:
        data = fh.read()
    suffix = PurePosixPath(path).suffix.lstrip(".").lower()
    try:
        if suffix == "npy":
            raw = np.load(io.BytesIO(data), allow_pickle=False)
        elif suffix == "npz":
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                raw = npz[_pick(list(npz.files), key, family, where)]
        elif suffix == "safetensors":
            from safetensors.numpy import load as load_safetensors

            tensors = load_safetensors(data)
            raw = tensors[_pick(list(tensors), key, family, where)]
        elif suffix == "parquet":
            table = pq.read_table(io.BytesIO(data))
            column = _pick(table.column_names, key, family, where, prefer=("embedding", "image_embedding"))
            raw = list_column_to_matrix(table.column(column), f"{where}[{column}]")
        else:
            kind = f"type .{suffix}" if suffix else "file type (the name has no suffix)"
            raise InputError(
                f"target file {where}: unsupported {kind}; use .npy, .npz, .parquet or .safetensors"
            )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"target file {where}: cannot read: {exc}") from exc
    try:
        matrix = check_matrix(np.asarray(raw), f"target file {where}")
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    if len(matrix) == 0:
        raise InputError(f"target file {where}: holds no rows")
    normed, finite, nonzero = normalize_rows(matrix)
    bad = np.flatnonzero(~(finite & nonzero))
    if len(bad):
        what = "non-finite values" if not finite[bad[0]] else "a zero vector"
        raise InputError(f"target file {where}: row {int(bad[0])} has {what} ({len(bad)} bad rows in all)")
    return normed


def _pick(
    names: list[str], key: str | None, family: str | None, where: str, prefer: tuple[str, ...] = ()
) -> str:
    if key is not None:
        if key not in names:
            raise InputError(f"target file {where}: no key {key!r}; found {sorted(names)}")
        return key
    candidates = [n for n in names if n != UID_COLUMN]
    if len(candidates) == 1:
        return candidates[0]
    for choice in ((image_key(family),) if family else ()) + prefer:
        if choice in names:
            return choice
    raise InputError(
        f"target file {where}: holds several arrays {sorted(names)}; choose one with target_key="
    )
