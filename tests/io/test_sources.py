"""Pool sources: DataComp parquet + npz pairs, parquet with embedding columns, fsspec URLs, detection."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.data import DUPLICATE_UID, MALFORMED_UID, NAN_IMAGE, NAN_TEXT, OK
from pairsift.errors import InputError
from pairsift.io.sources import DataCompSource, ParquetSource, SourceConfig, detect_kind, open_source
from pairsift.registry import UnknownNameError
from tests.pools import (
    family_arrays,
    hex_uids,
    npz_bytes,
    parquet_bytes,
    read_npz,
    read_uids,
    unit_rows,
    write_shard,
)

BOTH = frozenset({"image", "text"})
IMAGE_ONLY = frozenset({"image"})


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- DataComp: NAME.parquet + NAME.npz --------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_datacomp_reads_uids_and_renormalised_embeddings(make_pool, dtype):
    pool = make_pool(shards=2, rows=30, dim=16, dtype=dtype)
    source = open_source(str(pool), "l14", SourceConfig())
    assert isinstance(source, DataCompSource)
    assert source.shards() == ["00000000", "00000001"]
    for shard in source.shards():
        stored = read_npz(pool / f"{shard}.npz")
        assert stored["l14_img"].dtype == np.dtype(dtype)
        batch = source.read(shard, BOTH)
        assert batch.shard == shard
        assert list(batch.uids) == read_uids(pool / f"{shard}.parquet")
        assert batch.image.dtype == np.float32 and batch.text.dtype == np.float32
        assert batch.image.shape == batch.text.shape == (30, 16)
        # float16 rows are not exactly unit norm; the batch holds them renormalised in float32
        np.testing.assert_allclose(np.linalg.norm(batch.image, axis=1), 1.0, atol=1e-6)
        np.testing.assert_allclose(batch.image, unit(stored["l14_img"]), atol=1e-6)
        np.testing.assert_allclose(batch.text, unit(stored["l14_txt"]), atol=1e-6)
        assert batch.status.tolist() == [OK] * 30


def test_datacomp_float16_rows_far_from_unit_norm_are_renormalised(tmp_path):
    image = unit_rows(4, 8) * np.array([[0.5], [2.0], [100.0], [1.0]], dtype=np.float32)
    text = unit_rows(4, 8, seed=1)
    write_shard(tmp_path, "s", hex_uids(4), family_arrays(image, text, dtype="float16"))
    batch = open_source(str(tmp_path), "l14").read("s", BOTH)
    np.testing.assert_allclose(np.linalg.norm(batch.image, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(batch.image, unit(image.astype(np.float16)), atol=1e-6)


@pytest.mark.parametrize(("family", "dim"), [("l14", 16), ("b32", 8), ("my_model", 4)])
def test_datacomp_family_selects_npz_keys_by_prefix(tmp_path, family, dim):
    arrays = {}
    for fam, d, seed in (("l14", 16, 0), ("b32", 8, 10), ("my_model", 4, 20)):
        arrays.update(family_arrays(unit_rows(6, d, seed), unit_rows(6, d, seed + 1), fam))
    arrays["dedup"] = np.zeros((6, 2), dtype=np.float32)
    write_shard(tmp_path, "s", hex_uids(6), arrays)
    source = open_source(str(tmp_path), family, SourceConfig())
    batch = source.read("s", BOTH)
    assert batch.image.shape == (6, dim)
    np.testing.assert_allclose(batch.image, arrays[f"{family}_img"], atol=1e-6)
    np.testing.assert_allclose(batch.text, arrays[f"{family}_txt"], atol=1e-6)
    assert source.describe() == {"kind": "datacomp", "url": str(tmp_path), "family": family}


def test_datacomp_reads_only_the_requested_modality(tmp_path):
    # no text key at all: an image-only scorer must still work
    image = unit_rows(5, 8)
    write_shard(tmp_path, "s", hex_uids(5), {"l14_img": image})
    batch = open_source(str(tmp_path), "l14").read("s", IMAGE_ONLY)
    assert batch.text is None and batch.text_ok is None
    np.testing.assert_allclose(batch.image, image, atol=1e-6)
    with pytest.raises(InputError, match="no key 'l14_txt'"):
        open_source(str(tmp_path), "l14").read("s", BOTH)


def test_datacomp_shards_are_sorted_and_extra_files_ignored(tmp_path):
    for name in ("b", "a", "c"):
        write_shard(tmp_path, name, hex_uids(3), family_arrays(unit_rows(3, 4), unit_rows(3, 4, 1)))
    (tmp_path / "notes.txt").write_text("not a shard")
    (tmp_path / "orphan.npz").write_bytes(npz_bytes(l14_img=unit_rows(2, 4)))
    assert open_source(str(tmp_path), "l14").shards() == ["a", "b", "c"]


def test_datacomp_without_npz_beside_a_parquet_is_refused(tmp_path):
    write_shard(tmp_path, "a", hex_uids(3), family_arrays(unit_rows(3, 4), unit_rows(3, 4, 1)))
    (tmp_path / "b.parquet").write_bytes(parquet_bytes(pa.table({"uid": hex_uids(3)})))
    with pytest.raises(InputError) as err:
        open_source(str(tmp_path), "l14", SourceConfig(kind="datacomp"))
    assert str(tmp_path / "b.parquet") in str(err.value)
    assert str(tmp_path / "b.npz") in str(err.value)


def test_datacomp_missing_uid_column_names_file_and_columns(tmp_path):
    (tmp_path / "a.parquet").write_bytes(parquet_bytes(pa.table({"key": hex_uids(3)})))
    (tmp_path / "a.npz").write_bytes(npz_bytes(**family_arrays(unit_rows(3, 4), unit_rows(3, 4, 1))))
    with pytest.raises(InputError) as err:
        open_source(str(tmp_path), "l14").read("a", BOTH)
    message = str(err.value)
    assert str(tmp_path / "a.parquet") in message
    assert "['uid']" in message and "'key'" in message


def test_datacomp_image_and_text_dims_must_agree(tmp_path):
    write_shard(tmp_path, "s", hex_uids(3), {"l14_img": unit_rows(3, 8), "l14_txt": unit_rows(3, 6)})
    with pytest.raises(InputError, match=r"differ in dimension.*8.*6"):
        open_source(str(tmp_path), "l14").read("s", BOTH)


def test_datacomp_non_float_embeddings_are_refused(tmp_path):
    write_shard(tmp_path, "s", hex_uids(3), {"l14_img": np.ones((3, 4), dtype=np.int8)})
    with pytest.raises(InputError, match=r"s\.npz\[l14_img\].*float16/float32.*int8"):
        open_source(str(tmp_path), "l14").read("s", IMAGE_ONLY)


def test_datacomp_missing_pool_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file or directory"):
        open_source(str(tmp_path / "nope"), "l14", SourceConfig(kind="datacomp"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.parquet files found"):
        open_source(str(tmp_path / "empty"), "l14", SourceConfig(kind="datacomp"))


# --- fsspec: memory:// ------------------------------------------------------------------------


def write_memory_pool(fs, root: str, shards: int = 2, rows: int = 7, dim: int = 8) -> dict[str, dict]:
    written = {}
    for i in range(shards):
        uids = hex_uids(rows, seed=i)
        image, text = unit_rows(rows, dim, seed=2 * i), unit_rows(rows, dim, seed=2 * i + 1)
        fs.pipe_file(f"{root}/{i:08d}.parquet", parquet_bytes(pa.table({"uid": uids})))
        fs.pipe_file(f"{root}/{i:08d}.npz", npz_bytes(**family_arrays(image, text, dtype="float16")))
        written[f"{i:08d}"] = {"uids": uids, "image": image, "text": text}
    return written


def test_datacomp_through_fsspec_memory_filesystem(memfs):
    fs, root = memfs
    written = write_memory_pool(fs, root)
    url = f"memory://{root.lstrip('/')}"
    assert detect_kind(url) == "datacomp"
    source = open_source(url, "l14", SourceConfig())
    assert isinstance(source, DataCompSource)
    assert source.shards() == sorted(written)
    assert source.where("00000000.npz") == f"{url}/00000000.npz"
    for shard, data in written.items():
        batch = source.read(shard, BOTH)
        assert list(batch.uids) == data["uids"]
        np.testing.assert_allclose(batch.image, data["image"], atol=2e-3)
        np.testing.assert_allclose(batch.text, data["text"], atol=2e-3)


def test_memory_pool_errors_use_the_url(memfs):
    fs, root = memfs
    write_memory_pool(fs, root, shards=1)
    fs.pipe_file(f"{root}/00000000.npz", npz_bytes(b32_img=unit_rows(7, 8)))
    url = f"memory://{root.lstrip('/')}"
    with pytest.raises(InputError) as err:
        open_source(url, "l14").read("00000000", BOTH)
    assert f"{url}/00000000.npz" in str(err.value)
    assert "keys found: ['b32_img']" in str(err.value)


def test_score_a_memory_pool_end_to_end(memfs, tmp_path, score_config):
    from pairsift.stages.score import score

    fs, root = memfs
    written = write_memory_pool(fs, root, shards=2, rows=9)
    summary = score(score_config(f"memory://{root.lstrip('/')}", tmp_path / "run", "clip_score"))
    assert summary.ok and summary.shards == 2 and summary.rows == 18
    for shard, data in written.items():
        table = pq.read_table(tmp_path / "run" / "scores" / f"{shard}.parquet")
        assert table.column("uid").to_pylist() == data["uids"]
        image = unit(data["image"].astype(np.float16))
        text = unit(data["text"].astype(np.float16))
        expected = (image * text).sum(axis=1)
        np.testing.assert_allclose(table.column("clip_score").to_numpy(), expected, atol=1e-5)


# --- parquet source: uid column + two embedding columns -----------------------------------------


def list_array(rows: np.ndarray | list, kind: str) -> pa.Array:
    values = [None if r is None else list(map(float, r)) for r in rows]
    if kind == "fixed":
        dim = len(next(v for v in values if v is not None))
        return pa.array(values, pa.list_(pa.float32(), dim))
    if kind == "variable":
        return pa.array(values, pa.list_(pa.float32()))
    if kind == "large":
        return pa.array(values, pa.large_list(pa.float32()))
    if kind == "double":
        return pa.array(values, pa.list_(pa.float64()))
    raise AssertionError(kind)


def write_parquet_shard(
    path,
    uids,
    image,
    text,
    kind: str = "variable",
    uid_column: str = "uid",
    image_column: str = "image_embedding",
    text_column: str = "text_embedding",
) -> None:
    table = pa.table(
        {
            uid_column: pa.array(uids, pa.string()),
            image_column: list_array(image, kind),
            text_column: list_array(text, kind),
            "caption": pa.array(["x"] * len(uids)),
        }
    )
    pq.write_table(table, path)


@pytest.mark.parametrize("kind", ["fixed", "variable", "large", "double"])
def test_parquet_source_reads_list_columns(tmp_path, kind):
    uids, image, text = hex_uids(12), unit_rows(12, 16) * 3.0, unit_rows(12, 16, seed=1)
    write_parquet_shard(tmp_path / "part-0.parquet", uids, image, text, kind=kind)
    write_parquet_shard(tmp_path / "part-1.parquet", uids[:5], image[:5], text[:5], kind=kind)
    source = open_source(str(tmp_path), "l14", SourceConfig())
    assert isinstance(source, ParquetSource)
    assert source.shards() == ["part-0", "part-1"]
    batch = source.read("part-0", BOTH)
    assert list(batch.uids) == uids
    assert batch.image.dtype == np.float32
    np.testing.assert_allclose(batch.image, unit(image), atol=1e-6)
    np.testing.assert_allclose(batch.text, unit(text), atol=1e-6)
    assert batch.status.tolist() == [OK] * 12
    assert len(source.read("part-1", BOTH)) == 5


def test_parquet_source_configurable_column_names(tmp_path):
    uids, image, text = hex_uids(6), unit_rows(6, 8), unit_rows(6, 8, seed=1)
    columns = {"uid_column": "key", "image_column": "img_emb", "text_column": "txt_emb"}
    write_parquet_shard(tmp_path / "s.parquet", uids, image, text, **columns)
    config = SourceConfig(kind="parquet", **columns)
    source = open_source(str(tmp_path), "l14", config)
    batch = source.read("s", BOTH)
    assert list(batch.uids) == uids
    np.testing.assert_allclose(batch.image, image, atol=1e-6)
    np.testing.assert_allclose(batch.text, text, atol=1e-6)
    assert source.describe() == {
        "kind": "parquet",
        "url": str(tmp_path),
        **columns,
        "alt_text_column": "text",
    }
    # the default names are not there: the error names the file, what is missing and what exists
    with pytest.raises(InputError) as err:
        open_source(str(tmp_path), "l14", SourceConfig(kind="parquet")).read("s", BOTH)
    message = str(err.value)
    assert str(tmp_path / "s.parquet") in message
    assert "'uid'" in message and "'image_embedding'" in message and "'img_emb'" in message


def test_parquet_source_reads_only_requested_columns(tmp_path):
    pq.write_table(
        pa.table({"uid": hex_uids(3), "image_embedding": list_array(unit_rows(3, 4), "fixed")}),
        tmp_path / "s.parquet",
    )
    batch = open_source(str(tmp_path), "l14", SourceConfig(kind="parquet")).read("s", IMAGE_ONLY)
    assert batch.text is None and batch.image.shape == (3, 4)


@pytest.mark.parametrize("kind", ["fixed", "variable"])
def test_parquet_null_embedding_rows_get_a_nan_status(tmp_path, kind):
    image = list(unit_rows(4, 8))
    text = list(unit_rows(4, 8, seed=1))
    image[1] = None
    text[2] = None
    write_parquet_shard(tmp_path / "s.parquet", hex_uids(4), image, text, kind=kind)
    batch = open_source(str(tmp_path), "l14").read("s", BOTH)
    assert batch.status.tolist() == [OK, NAN_IMAGE, NAN_TEXT, OK]
    assert batch.valid(BOTH).tolist() == [True, False, False, True]


def test_parquet_rows_of_different_lengths_are_an_input_error(tmp_path):
    image = [np.ones(16), np.ones(8), np.ones(16)]
    write_parquet_shard(tmp_path / "s.parquet", hex_uids(3), image, image, kind="variable")
    with pytest.raises(InputError, match=r"s\.parquet\[image_embedding\]: rows have different embedding"):
        open_source(str(tmp_path), "l14").read("s", BOTH)


def test_parquet_rows_of_different_lengths_error_names_the_right_rows(tmp_path):
    image = [np.ones(16), np.ones(8), np.ones(16)]
    write_parquet_shard(tmp_path / "s.parquet", hex_uids(3), image, image, kind="variable")
    with pytest.raises(InputError) as err:
        open_source(str(tmp_path), "l14").read("s", BOTH)
    assert "row 1 has 8" in str(err.value) and "row 0 has 16" in str(err.value)


def test_parquet_all_null_text_column_marks_rows_nan_text(tmp_path):
    write_parquet_shard(tmp_path / "s.parquet", hex_uids(3), list(unit_rows(3, 8)), [None] * 3)
    batch = open_source(str(tmp_path), "l14").read("s", BOTH)
    assert batch.status.tolist() == [NAN_TEXT] * 3


def test_parquet_all_null_image_column_marks_rows_nan_image(tmp_path):
    pq.write_table(
        pa.table({"uid": hex_uids(3), "image_embedding": pa.array([None] * 3, pa.list_(pa.float32()))}),
        tmp_path / "s.parquet",
    )
    batch = open_source(str(tmp_path), "l14", SourceConfig(kind="parquet")).read("s", IMAGE_ONLY)
    assert batch.status.tolist() == [NAN_IMAGE] * 3


def test_parquet_empty_shard_reads_as_zero_rows(tmp_path):
    write_parquet_shard(tmp_path / "s.parquet", [], [], [], kind="variable")
    batch = open_source(str(tmp_path), "l14", SourceConfig(kind="parquet")).read("s", BOTH)
    assert len(batch) == 0 and batch.status.tolist() == []


def test_parquet_uid_checks_apply(tmp_path):
    uids = hex_uids(4)
    uids[2] = uids[0]
    uids[3] = "not-a-uid"
    write_parquet_shard(tmp_path / "s.parquet", uids, list(unit_rows(4, 4)), list(unit_rows(4, 4, 1)))
    batch = open_source(str(tmp_path), "l14").read("s", BOTH)
    assert batch.status.tolist() == [OK, OK, DUPLICATE_UID, MALFORMED_UID]


# --- detection and kinds ------------------------------------------------------------------------


def test_detect_kind(tmp_path, make_pool):
    pool = make_pool(shards=1, rows=3, dim=4)
    assert detect_kind(str(pool)) == "datacomp"
    assert isinstance(open_source(str(pool), "l14"), DataCompSource)

    plain = tmp_path / "plain"
    plain.mkdir()
    write_parquet_shard(plain / "s.parquet", hex_uids(2), list(unit_rows(2, 4)), list(unit_rows(2, 4, 1)))
    assert detect_kind(str(plain)) == "parquet"
    assert isinstance(open_source(str(plain), "l14"), ParquetSource)

    single = plain / "s.parquet"
    assert detect_kind(str(single)) == "parquet"
    source = open_source(str(single), "l14")
    assert isinstance(source, ParquetSource) and source.shards() == ["s"]
    assert len(source.read("s", BOTH)) == 2

    with pytest.raises(InputError, match="no such file or directory"):
        detect_kind(str(tmp_path / "missing"))


def test_explicit_kind_overrides_detection(make_pool):
    pool = make_pool(shards=1, rows=3, dim=4)
    with pytest.raises(InputError, match="missing column"):
        open_source(str(pool), "l14", SourceConfig(kind="parquet")).read("00000000", BOTH)


def test_unknown_source_kind_lists_the_registered_ones(make_pool):
    pool = make_pool(shards=1, rows=3, dim=4)
    with pytest.raises(UnknownNameError) as err:
        open_source(str(pool), "l14", SourceConfig(kind="webdataset"))
    assert "unknown source 'webdataset'" in str(err.value)
    assert "datacomp" in str(err.value) and "parquet" in str(err.value)


def test_alt_text_is_read_only_when_required(tmp_path):
    from pairsift.data import ALT_TEXT

    uids = hex_uids(4)
    write_shard(tmp_path, "s", uids, family_arrays(unit_rows(4, 8), unit_rows(4, 8, seed=1)))
    table = pq.read_table(tmp_path / "s.parquet")
    texts = ["one", None, "three", ""]
    pq.write_table(table.set_column(1, "text", pa.array(texts, pa.string())), tmp_path / "s.parquet")
    source = open_source(str(tmp_path), "l14")
    assert source.read("s", BOTH).alt_text is None
    batch = source.read("s", frozenset({ALT_TEXT}))
    assert list(batch.alt_text) == texts and batch.image is None
    assert batch.status.tolist() == ["ok", "missing_alt_text", "ok", "ok"]
    assert batch.valid(frozenset({ALT_TEXT})).tolist() == [True, False, True, True]
