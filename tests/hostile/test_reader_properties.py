"""Property-based tests over every reader but the tars (issue 16): hostile bytes in, and out comes a clear
error naming the file (InputError/ConfigError), or a result whose bad rows carry a status; never another
exception, never a partial file under a final name. Profiles: tests/hostile/properties.py."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pairsift.cli.main import main
from pairsift.data import ALT_TEXT, IMAGE, OK, TEXT
from pairsift.errors import ConfigError, InputError
from pairsift.io.sources import SourceConfig, open_source
from pairsift.io.subsets import detect_format, read_subset
from pairsift.io.uid_files import convert, info, read_uids
from pairsift.recipe import Recipe, resolve
from pairsift.select.tables import ScoreTables
from pairsift.uids import SUBSET_DTYPE
from tests.hostile.properties import (
    any_array,
    clear_or,
    floats_matrix,
    hex_uid,
    hostile_npy,
    mutations,
    npy_bytes,
    zip_bytes,
)
from tests.pools import npz_bytes, parquet_bytes

ROWS = 4
UIDS = [hex_uid(i) for i in range(ROWS)]
VALID_MATRIX = np.eye(ROWS, 8, dtype=np.float16)
VALID_NPZ = npz_bytes(l14_img=VALID_MATRIX, l14_txt=VALID_MATRIX)
META = pa.table({"uid": pa.array(UIDS, pa.string()), "text": pa.array([f"c {i}" for i in range(ROWS)])})
VALID_PARQUET = parquet_bytes(META)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pairsift-prop-") as name:
        yield Path(name)


def finals(folder: Path) -> set[str]:
    """Names in ``folder`` (recursively), temporary files included."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# --- embeddings: DataComp npz -------------------------------------------------------------------
def _members(img: bytes, txt: bytes) -> bytes:
    return zip_bytes({"l14_img.npy": img, "l14_txt.npy": txt})


valid_member = npy_bytes(VALID_MATRIX)
npz_files = st.one_of(
    mutations(VALID_NPZ),
    st.tuples(hostile_npy(valid_member), st.sampled_from([valid_member])).map(lambda t: _members(*t)),
    st.tuples(floats_matrix(ROWS, 8), floats_matrix(ROWS, 8)).map(
        lambda t: npz_bytes(l14_img=t[0], l14_txt=t[1])
    ),
    any_array.map(lambda a: npz_bytes(l14_img=a, l14_txt=VALID_MATRIX)),
)


def check_statuses(batch: Any) -> None:
    """A row with a non-finite or zero embedding, or a bad uid, never has status ok."""
    for arr, ok in ((batch.image, batch.image_ok), (batch.text, batch.text_ok)):
        if arr is not None:
            assert arr.shape[0] == len(batch.uids)
            assert not (batch.status[~ok] == OK).any()
            assert np.isfinite(arr[ok]).all()
    assert not (batch.status[~batch.uid_ok] == OK).any()


@given(npz=npz_files)
def test_datacomp_npz(npz: bytes) -> None:
    with scratch() as pool:
        (pool / "s.parquet").write_bytes(VALID_PARQUET)
        (pool / "s.npz").write_bytes(npz)
        before = finals(pool)
        batch = clear_or(lambda: open_source(str(pool), "l14").read("s", frozenset({IMAGE, TEXT})), "s.npz")
        if batch is not None:
            check_statuses(batch)
        assert finals(pool) == before  # a reader writes nothing


# --- DataComp metadata parquet and parquet pools ------------------------------------------------
arrow_columns = st.sampled_from(
    [
        pa.array(UIDS, pa.large_string()),
        pa.array([u.encode() for u in UIDS], pa.binary()),
        pa.array([None] * ROWS, pa.string()),
        pa.array([None] * ROWS, pa.null()),
        pa.array([1.5, np.nan, np.inf, 0.0], pa.float64()),
        pa.array([[1.0]] * ROWS, pa.list_(pa.float32())),
        pa.array(["", "zz", "\x00" * 40, UIDS[0]], pa.string()),
        pa.array([True, False, True, None], pa.bool_()),
        pa.array([{"a": 1}] * ROWS),
    ]
)


def _table(uid: pa.Array | None, text: pa.Array | None) -> bytes:
    columns = {"uid": uid, "text": text}
    return parquet_bytes(pa.table({k: v for k, v in columns.items() if v is not None}))


meta_files = st.one_of(
    mutations(VALID_PARQUET),
    st.tuples(st.one_of(arrow_columns, st.none()), st.one_of(arrow_columns, st.none())).map(
        lambda t: _table(*t)
    ),
)


@given(meta=meta_files)
def test_datacomp_metadata(meta: bytes) -> None:
    with scratch() as pool:
        (pool / "s.parquet").write_bytes(meta)
        (pool / "s.npz").write_bytes(VALID_NPZ)
        source = open_source(str(pool), "l14", SourceConfig(kind="datacomp"))
        batch = clear_or(lambda: source.read("s", frozenset({IMAGE, TEXT, ALT_TEXT})), "s.parquet")
        if batch is not None:
            check_statuses(batch)
            assert not (batch.status[~batch.alt_text_ok] == OK).any()


list_columns = st.sampled_from(
    [
        pa.array([[1, 2]] * ROWS, pa.list_(pa.int64())),
        pa.array([["a"]] * ROWS, pa.list_(pa.string())),
        pa.array([[1.0, 2.0], [1.0], None, []], pa.list_(pa.float32())),
        pa.array([[1.0, np.nan]] * ROWS, pa.list_(pa.float64(), 2)),
        pa.array([[[1.0]]] * ROWS, pa.list_(pa.list_(pa.float32()))),
        pa.array([0.5] * ROWS, pa.float32()),
        pa.array([None] * ROWS, pa.list_(pa.float32())),
        pa.array([[np.inf, 0.0]] * ROWS, pa.large_list(pa.float16())),
    ]
)


@given(image=list_columns, text=list_columns, uid=st.one_of(st.just(pa.array(UIDS)), arrow_columns))
def test_parquet_pool(image: pa.Array, text: pa.Array, uid: pa.Array) -> None:
    with scratch() as pool:
        pq.write_table(
            pa.table({"uid": uid, "image_embedding": image, "text_embedding": text}), pool / "s.parquet"
        )
        source = open_source(str(pool), "l14", SourceConfig(kind="parquet"))
        batch = clear_or(lambda: source.read("s", frozenset({IMAGE, TEXT})), "s.parquet")
        if batch is not None:
            check_statuses(batch)


# --- uid lists: subset files (.npy, raw), text, parquet -------------------------------------------
VALID_SUBSET = np.array([(1, 2), (3, 4), (3, 4)], dtype=SUBSET_DTYPE)
VALID_TEXT = "".join(hex_uid(i) + "\n" for i in range(3)).encode()
VALID_UID_PARQUET = parquet_bytes(pa.table({"uid": pa.array([hex_uid(i) for i in range(3)])}))
uid_lists = st.tuples(
    st.one_of(
        hostile_npy(npy_bytes(VALID_SUBSET)),
        mutations(VALID_TEXT),
        mutations(VALID_UID_PARQUET),
        st.text(max_size=80).map(str.encode),
        st.lists(st.sampled_from([hex_uid(1), hex_uid(1).upper(), "", " ", "\t", "x" * 33]), max_size=5).map(
            lambda lines: "\n".join(lines).encode()
        ),
        st.sampled_from([(2, "<u8"), (2, ">u8"), (3, "<u8"), (2, "<u4")]).map(
            lambda t: npy_bytes(np.zeros(2, dtype=[(f"f{i}", t[1]) for i in range(t[0])]))
        ),
    ),
    st.sampled_from(["u.npy", "u.txt", "u.parquet", "u.bin", "u"]),
)


@given(case=uid_lists, mmap=st.booleans())
def test_subset_reader(case: tuple[bytes, str], mmap: bool) -> None:
    data, name = case
    with scratch() as folder:
        path = folder / name
        path.write_bytes(data)
        fmt = clear_or(lambda: detect_format(path), path)
        subset = clear_or(lambda: read_subset(path, mmap=mmap), path)
        if subset is not None:
            assert fmt is not None
            assert subset.dtype == SUBSET_DTYPE and subset.ndim == 1
            keys = np.asarray(subset).tolist()
            assert keys == sorted(keys)


@given(case=uid_lists, out=st.sampled_from(["o.npy", "o.txt", "o.parquet"]))
def test_uid_convert_is_all_or_nothing(case: tuple[bytes, str], out: str) -> None:
    data, name = case
    with scratch() as folder:
        path = folder / name
        path.write_bytes(data)
        report = clear_or(lambda: info(path), path)
        done = clear_or(lambda: convert(path, folder / out), path)
        if done is None:
            assert finals(folder) == {name}  # no output, no temporary file left
        else:
            assert report is not None and report.count == done.count
            assert finals(folder) == {name, out}
            assert read_uids(folder / out).tolist() == read_uids(path).tolist()


# --- score tables -------------------------------------------------------------------------------
def score_table(uid: pa.Array, score: pa.Array) -> bytes:
    return parquet_bytes(pa.table({"uid": uid, "status": pa.array(["ok"] * ROWS), "clip_score": score}))


VALID_SCORES = score_table(pa.array(UIDS), pa.array([0.1, 0.2, np.nan, 0.4], pa.float32()))
score_columns = st.sampled_from(
    [
        pa.array([0.1, 0.2, 0.3, 0.4], pa.float64()),
        pa.array([1, 2, 3, 4], pa.int32()),
        pa.array(["a", "b", "c", "d"]),
        pa.array([None] * ROWS, pa.float32()),
        pa.array([[1.0]] * ROWS, pa.list_(pa.float32())),
        pa.array([np.inf, -np.inf, np.nan, 0.0], pa.float32()),
    ]
)
score_files = st.one_of(
    mutations(VALID_SCORES),
    st.tuples(st.one_of(st.just(pa.array(UIDS)), arrow_columns), score_columns).map(
        lambda t: score_table(*t)
    ),
    st.just(parquet_bytes(pa.table({"uid": pa.array(UIDS)}))),
)


@given(table=score_files)
def test_score_tables(table: bytes) -> None:
    with scratch() as folder:
        (folder / "scores").mkdir()
        (folder / "scores" / "a.parquet").write_bytes(VALID_SCORES)
        (folder / "scores" / "b.parquet").write_bytes(table)
        tables = ScoreTables(folder)

        def read() -> None:
            for shard in tables.shards:
                if "clip_score" in tables.columns:
                    tables.column(shard, "clip_score")
                tables.uid_keys(shard)
            assert tables.total >= ROWS

        clear_or(read, "scores")


@given(table=score_files)
def test_select_cli_on_hostile_score_table(table: bytes) -> None:
    with scratch() as folder:
        (folder / "scores").mkdir()
        (folder / "scores" / "a.parquet").write_bytes(VALID_SCORES)
        (folder / "scores" / "b.parquet").write_bytes(table)
        out = folder / "sel" / "subset.npy"
        out.parent.mkdir()
        code, errors = cli(
            ["select", str(folder), "-o", str(out), "--top", "clip_score=0.5", "--allow-partial"]
        )
        if code == 0:
            assert finals(out.parent) == {"subset.npy", "subset.npy.json"}
        else:
            assert code == 2 and len(errors) == 1, errors
            assert finals(out.parent) == set()


# --- recipes: YAML text, ${var}, --set ----------------------------------------------------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["${pool}", "${nope}", "${output}/x", "$", "${", "clip_score", "neg_clip_loss:k=3"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
keys = st.sampled_from(
    ["pool", "output", "embeddings", "scorers", "source", "compute", "seed", "engine", "select", "reshard",
     "plugins", "vars", "about", "rules", "top", "kind", "workers", "device"]
)  # fmt: skip
recipes = st.dictionaries(keys, values, max_size=6).map(
    lambda d: yaml.safe_dump(d, allow_unicode=True).encode()
)
yaml_text = st.one_of(
    recipes,
    st.text(max_size=120).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=80),
    st.sampled_from(
        [
            b"!!python/object/apply:os.system ['echo owned']\n",
            b"scorers: !!python/name:os.system\n",
            b"a: &x [*x]\n",
            b"pool: !custom 1\n",
            b"- 1\n- 2\n",
            b"\xff\xfe\x00p\x00o",
            b"{" * 200,
            b"vars: [a, b]\nscorers: [clip_score]\n",
            b"vars: abc\nscorers: [clip_score]\n",
            b"vars: {x: null}\nscorers: [clip_score]\n",
        ]
    ),
)
override = st.tuples(
    st.lists(
        st.sampled_from(["scorers", "0", "-1", "7", "k", "select", "rules", "compute", "device", "", "x"]),
        min_size=0,
        max_size=4,
    ),
    st.sampled_from(["=", ""]),
    st.text(max_size=8),
).map(lambda t: ".".join(t[0]) + t[1] + t[2])


@given(text=yaml_text, overrides=st.lists(override, max_size=3), var=st.sampled_from([{}, {"x": "1"}]))
def test_recipe_file(text: bytes, overrides: list[str], var: dict[str, str]) -> None:
    with scratch() as folder:
        path = folder / "r.yaml"
        path.write_bytes(text)
        try:
            Recipe.from_dict(
                resolve(str(path), pool=str(folder / "pool"), variables=var, overrides=overrides)
            )
        except (ConfigError, InputError) as exc:  # content errors name the key; read errors the file
            if "recipe" in str(exc) and "cannot read" in str(exc):
                assert str(path) in str(exc)


@given(
    overrides=st.lists(override, min_size=1, max_size=4),
    name=st.sampled_from(["clipscore-30", "sieve-clipscore"]),
)
def test_builtin_recipe_overrides(overrides: list[str], name: str) -> None:
    try:
        Recipe.from_dict(resolve(name, pool="/nonexistent", output="/nonexistent/o", overrides=overrides))
    except (ConfigError, InputError) as exc:
        assert str(exc)


# --- the command line: exit 2 and one line, nothing written ----------------------------------------
class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def cli(argv: list[str]) -> tuple[int, list[str]]:
    """``pairsift ARGV`` in process: its exit code and the error lines it logged."""
    handler = _Errors()
    logger = logging.getLogger("pairsift")
    logger.addHandler(handler)
    try:
        code = main(["-q", *argv])
    finally:
        logger.removeHandler(handler)
    assert all("Traceback" not in line and "\n" not in line.strip() for line in handler.lines), handler.lines
    return code, handler.lines


@given(case=uid_lists)
def test_uids_cli(case: tuple[bytes, str]) -> None:
    data, name = case
    with scratch() as folder:
        (folder / name).write_bytes(data)
        code, errors = cli(["uids", "convert", str(folder / name), str(folder / "out.npy")])
        assert code in (0, 2)
        if code == 2:
            assert len(errors) == 1 and name in errors[0]
            assert finals(folder) == {name}


@given(text=yaml_text)
def test_run_cli(text: bytes) -> None:
    with scratch() as folder:
        (folder / "r.yaml").write_bytes(text)
        code, errors = cli(
            ["run", str(folder / "r.yaml"), "--pool", str(folder / "none"), "-o", str(folder / "o")]
        )
        assert code == 2 and len(errors) == 1, errors
        assert not (folder / "o" / "subset.npy").exists()
