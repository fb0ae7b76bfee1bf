"""Target image embeddings for NormSim: npy, npz, parquet, safetensors; renormalised; bad rows named."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from safetensors.numpy import save_file

from pairsift.errors import InputError
from pairsift.io.targets import load_targets
from tests.pools import hex_uids, npz_bytes, unit_rows


def raw_targets(n: int = 6, dim: int = 8, seed: int = 0) -> np.ndarray:
    """Rows of varied norms, so renormalisation is visible."""
    scale = np.linspace(0.5, 3.0, n, dtype=np.float32)[:, None]
    return unit_rows(n, dim, seed) * scale


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def check_loaded(loaded: np.ndarray, expected: np.ndarray, atol: float = 1e-6) -> None:
    assert loaded.dtype == np.float32
    assert loaded.shape == expected.shape
    np.testing.assert_allclose(np.linalg.norm(loaded, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(loaded, unit(expected), atol=atol)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_npy_rows_are_renormalised(tmp_path, dtype):
    t = raw_targets().astype(dtype)
    np.save(tmp_path / "t.npy", t)
    check_loaded(load_targets(str(tmp_path / "t.npy")), t)


def test_npz_with_a_single_array_uses_it_whatever_its_name(tmp_path):
    t = raw_targets()
    (tmp_path / "t.npz").write_bytes(npz_bytes(whatever=t))
    check_loaded(load_targets(str(tmp_path / "t.npz")), t)


def test_npz_uid_member_does_not_count_as_an_array_to_choose(tmp_path):
    t = raw_targets()
    (tmp_path / "t.npz").write_bytes(npz_bytes(uid=np.array(hex_uids(6)), emb=t))
    check_loaded(load_targets(str(tmp_path / "t.npz")), t)


def test_npz_by_key_and_by_family(tmp_path):
    img, txt, other = raw_targets(seed=0), raw_targets(seed=1), raw_targets(dim=4, seed=2)
    (tmp_path / "t.npz").write_bytes(npz_bytes(l14_img=img, l14_txt=txt, b32_img=other))
    path = str(tmp_path / "t.npz")
    check_loaded(load_targets(path, key="l14_txt"), txt)
    check_loaded(load_targets(path, family="l14"), img)
    check_loaded(load_targets(path, family="b32"), other)
    # an explicit key wins over the family
    check_loaded(load_targets(path, key="b32_img", family="l14"), other)


def test_npz_ambiguous_without_key_lists_the_keys(tmp_path):
    (tmp_path / "t.npz").write_bytes(npz_bytes(a=raw_targets(seed=0), b=raw_targets(seed=1)))
    with pytest.raises(InputError) as err:
        load_targets(str(tmp_path / "t.npz"), family="l14")
    message = str(err.value)
    assert str(tmp_path / "t.npz") in message
    assert "['a', 'b']" in message and "target_key=" in message


def test_npz_unknown_key_lists_the_keys(tmp_path):
    (tmp_path / "t.npz").write_bytes(npz_bytes(l14_img=raw_targets()))
    with pytest.raises(InputError, match=r"no key 'b32_img'; found \['l14_img'\]"):
        load_targets(str(tmp_path / "t.npz"), key="b32_img")


@pytest.mark.parametrize("fixed", [True, False])
def test_parquet_list_column(tmp_path, fixed):
    t = raw_targets()
    kind = pa.list_(pa.float32(), t.shape[1]) if fixed else pa.list_(pa.float32())
    table = pa.table({"uid": hex_uids(len(t)), "embedding": pa.array([list(r) for r in t], kind)})
    pq.write_table(table, tmp_path / "t.parquet")
    check_loaded(load_targets(str(tmp_path / "t.parquet")), t)


def test_parquet_column_choice(tmp_path):
    a, b = raw_targets(seed=0), raw_targets(seed=1)
    table = pa.table(
        {
            "uid": hex_uids(len(a)),
            "image_embedding": pa.array([list(r) for r in a], pa.list_(pa.float32())),
            "text_embedding": pa.array([list(r) for r in b], pa.list_(pa.float32())),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    path = str(tmp_path / "t.parquet")
    check_loaded(load_targets(path), a)  # image_embedding is preferred
    check_loaded(load_targets(path, key="text_embedding"), b)
    with pytest.raises(
        InputError, match=r"no key 'emb'; found \['image_embedding', 'text_embedding', 'uid'\]"
    ):
        load_targets(path, key="emb")


def test_parquet_with_several_unpreferred_columns_is_ambiguous(tmp_path):
    a = raw_targets()
    rows = pa.array([list(r) for r in a], pa.list_(pa.float32()))
    pq.write_table(pa.table({"x": rows, "y": rows}), tmp_path / "t.parquet")
    with pytest.raises(InputError, match=r"several arrays \['x', 'y'\]"):
        load_targets(str(tmp_path / "t.parquet"))


def test_safetensors(tmp_path):
    img, txt = raw_targets(seed=0), raw_targets(seed=1).astype(np.float16)
    save_file({"l14_img": img, "l14_txt": txt}, str(tmp_path / "t.safetensors"))
    path = str(tmp_path / "t.safetensors")
    check_loaded(load_targets(path, family="l14"), img)
    check_loaded(load_targets(path, key="l14_txt"), txt)
    with pytest.raises(InputError, match=r"several arrays \['l14_img', 'l14_txt'\]"):
        load_targets(path)
    save_file({"targets": img}, str(tmp_path / "one.safetensors"))
    check_loaded(load_targets(str(tmp_path / "one.safetensors")), img)


def test_targets_through_fsspec_memory(memfs):
    fs, root = memfs
    t = raw_targets()
    fs.pipe_file(f"{root}/t.npz", npz_bytes(l14_img=t))
    check_loaded(load_targets(f"memory://{root.lstrip('/')}/t.npz"), t)


@pytest.mark.parametrize(
    ("bad", "what"), [(np.nan, "non-finite values"), (np.inf, "non-finite values"), (0.0, "a zero vector")]
)
def test_bad_rows_are_named(tmp_path, bad, what):
    t = raw_targets()
    t[3] = 0.0
    t[3, 0] = bad if bad != 0.0 else 0.0
    t[5, 2] = np.nan
    np.save(tmp_path / "t.npy", t)
    with pytest.raises(InputError) as err:
        load_targets(str(tmp_path / "t.npy"))
    message = str(err.value)
    assert str(tmp_path / "t.npy") in message
    assert f"row 3 has {what}" in message
    assert "(2 bad rows in all)" in message


def test_bad_row_in_parquet_null_is_named(tmp_path):
    t = [list(r) for r in raw_targets(n=3)]
    t[2] = None
    pq.write_table(pa.table({"embedding": pa.array(t, pa.list_(pa.float32()))}), tmp_path / "t.parquet")
    with pytest.raises(InputError, match="row 2 has non-finite values"):
        load_targets(str(tmp_path / "t.parquet"))


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as err:
        load_targets(str(tmp_path / "missing.npy"))
    assert str(tmp_path / "missing.npy") in str(err.value)
    assert "no such file" in str(err.value)


def test_unsupported_suffix(tmp_path):
    (tmp_path / "t.txt").write_text("0.1 0.2\n")
    with pytest.raises(InputError) as err:
        load_targets(str(tmp_path / "t.txt"))
    assert "unsupported type .txt" in str(err.value)
    assert ".npy, .npz, .parquet or .safetensors" in str(err.value)


def test_file_without_suffix_says_so(tmp_path):
    folder = tmp_path / "v1.2"
    folder.mkdir()
    np.save(folder / "targets.npy", raw_targets())
    (folder / "targets.npy").rename(folder / "targets")
    with pytest.raises(InputError) as err:
        load_targets(str(folder / "targets"))
    assert "unsupported type .2/targets" not in str(err.value)
    assert "no suffix" in str(err.value) or "unsupported type ''" in str(err.value)


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.ones(8, dtype=np.float32), r"expected a 2-D \(rows, dim\) array, found shape \(8,\)"),
        (np.ones((3, 8), dtype=np.int32), "expected float16/float32 embeddings, found dtype int32"),
        (np.zeros((0, 8), dtype=np.float32), "holds no rows"),
    ],
)
def test_wrong_shapes_and_types(tmp_path, array, match):
    np.save(tmp_path / "t.npy", array)
    with pytest.raises(InputError, match=match):
        load_targets(str(tmp_path / "t.npy"))


@pytest.mark.parametrize("suffix", ["npy", "npz", "parquet", "safetensors"])
def test_corrupt_file_names_the_file(tmp_path, suffix):
    path = tmp_path / f"t.{suffix}"
    path.write_bytes(b"\x93NUMPY garbage " * 10)
    with pytest.raises(InputError) as err:
        load_targets(str(path))
    assert f"target file {path}: cannot read" in str(err.value)


def test_large_finite_rows_are_renormalised_not_zeroed(tmp_path):
    t = raw_targets()
    t[1] *= np.float32(1e20)
    np.save(tmp_path / "t.npy", t)
    check_loaded(load_targets(str(tmp_path / "t.npy")), t.astype(np.float64))
