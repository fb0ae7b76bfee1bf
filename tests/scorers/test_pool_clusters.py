"""The embedding cache shared by the k-means pool scorers: bounded reads, not a memory map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pairsift.scorers.pool_clusters import RowFile


def _file(tmp_path: Path, rows: int = 50, dim: int = 6) -> tuple[RowFile, np.ndarray]:
    x = np.random.default_rng(0).standard_normal((rows, dim)).astype(np.float32)
    path = tmp_path / "rows.f32"
    path.write_bytes(x.tobytes())
    return RowFile(path, rows, dim), x


def test_slices_and_index_arrays_read_the_asked_rows(tmp_path: Path) -> None:
    rows, x = _file(tmp_path)
    assert rows.shape == (50, 6) and len(rows) == 50
    np.testing.assert_array_equal(rows[10:20], x[10:20])
    np.testing.assert_array_equal(rows[45:99], x[45:])
    assert rows[30:30].shape == (0, 6)
    wanted = np.array([7, 3, 4, 5, 49, 0, 3, 12])  # unsorted, a run, a repeat
    np.testing.assert_array_equal(rows[wanted], x[wanted])
    assert rows[np.zeros(0, np.int64)].shape == (0, 6)
    rows.close()


def test_out_of_range_steps_and_closed_files_are_errors(tmp_path: Path) -> None:
    rows, _ = _file(tmp_path)
    with pytest.raises(IndexError, match="out of range"):
        rows[np.array([50])]
    with pytest.raises(IndexError, match="step"):
        rows[::2]
    rows.close()
    with pytest.raises(ValueError, match="closed"):
        rows[0:1]


def test_a_truncated_cache_is_a_short_read(tmp_path: Path) -> None:
    rows, x = _file(tmp_path)
    (tmp_path / "rows.f32").write_bytes(x[:10].tobytes())
    with pytest.raises(OSError, match="short read"):
        rows[5:20]
    rows.close()
