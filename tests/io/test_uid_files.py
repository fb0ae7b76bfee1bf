"""uid_sets: conversions keep every duplicate, info figures, multiset operations vs a Counter reference."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.errors import InputError
from pairsift.io.uid_files import (
    combine_files,
    convert,
    detect_format,
    diff,
    info,
    intersect,
    load_uids,
    read_uids,
    union,
)
from pairsift.uids import SUBSET_DTYPE, from_hex, is_sorted, to_hex

A = "0" * 31 + "1"
B = "00000000000000010000000000000000"  # hi = 1, lo = 0: sorts after every uid with hi = 0
C = "ffffffffffffffffffffffffffffffff"
D = "0123456789abcdef0123456789abcdef"


def subset(*uids: str) -> np.ndarray:
    return from_hex(list(uids))


def save(path: Path, arr: np.ndarray) -> Path:
    np.save(path, arr, allow_pickle=False)
    return path


def random_subset(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    """``n`` rows drawn with replacement from ``pool`` (so with duplicates), sorted."""
    return np.sort(pool[rng.integers(0, len(pool), n)])


@pytest.fixture
def dup_file(tmp_path: Path) -> Path:
    """A once, B twice, D three times, C once (sorted in that order: A < B < D < C)."""
    return save(tmp_path / "dups.npy", np.sort(subset(C, D, B, A, D, B, D)))


# --- conversions -----------------------------------------------------------------------------
@pytest.mark.parametrize("middle", ["uids.txt", "uids.parquet"])
def test_round_trip_is_byte_identical(tmp_path: Path, dup_file: Path, middle: str):
    convert(dup_file, tmp_path / middle)
    back = convert(tmp_path / middle, tmp_path / "back.npy")
    assert back.count == 7
    assert (tmp_path / "back.npy").read_bytes() == dup_file.read_bytes()


def test_text_and_parquet_outputs_list_every_copy(tmp_path: Path, dup_file: Path):
    convert(dup_file, tmp_path / "u.txt")
    convert(dup_file, tmp_path / "u.parquet")
    expected = [A, B, B, D, D, D, C]
    assert (tmp_path / "u.txt").read_text().splitlines() == expected
    table = pq.read_table(tmp_path / "u.parquet")
    assert table.schema.field("uid").type == pa.string()
    assert table.column("uid").to_pylist() == expected


def test_text_order_is_kept_until_npy(tmp_path: Path):
    (tmp_path / "in.txt").write_text(f"{C}\n\n{D.upper()}\r\n{C}\n")
    convert(tmp_path / "in.txt", tmp_path / "out.parquet")
    assert pq.read_table(tmp_path / "out.parquet").column("uid").to_pylist() == [C, D, C]
    convert(tmp_path / "out.parquet", tmp_path / "out.npy")
    assert list(to_hex(np.load(tmp_path / "out.npy"))) == [D, C, C]


def test_raw_memmap_input(tmp_path: Path, dup_file: Path):
    raw = tmp_path / "subset.bin"
    np.load(dup_file).tofile(raw)
    assert detect_format(raw) == "raw"
    assert info(raw).format == "raw"
    convert(raw, tmp_path / "from_raw.npy")
    assert (tmp_path / "from_raw.npy").read_bytes() == dup_file.read_bytes()


def test_empty_files(tmp_path: Path):
    save(tmp_path / "empty.npy", np.zeros(0, SUBSET_DTYPE))
    (tmp_path / "empty.bin").write_bytes(b"")
    (tmp_path / "empty.txt").write_text("")
    for name in ("empty.npy", "empty.bin", "empty.txt"):
        report = info(tmp_path / name)
        assert (report.count, report.distinct, report.first_uid, report.sorted) == (0, 0, None, True)
    convert(tmp_path / "empty.txt", tmp_path / "out.parquet")
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 0
    convert(tmp_path / "out.parquet", tmp_path / "out.npy")
    assert np.load(tmp_path / "out.npy").shape == (0,)


def test_unsorted_subset_is_sorted_on_conversion(tmp_path: Path):
    path = save(tmp_path / "unsorted.npy", subset(C, A, C, B))
    convert(path, tmp_path / "sorted.npy")
    out = np.load(tmp_path / "sorted.npy")
    assert is_sorted(out)
    assert list(to_hex(out)) == [A, B, C, C]


# --- info ------------------------------------------------------------------------------------
def test_info_figures(dup_file: Path):
    report = info(dup_file)
    assert report.to_dict() == {
        "path": str(dup_file),
        "format": "npy",
        "count": 7,
        "distinct": 4,
        "duplicated": 2,
        "extra_copies": 3,
        "max_copies": 3,
        "sorted": True,
        "first_uid": A,
        "last_uid": C,
    }


def test_info_reports_stored_order(tmp_path: Path):
    path = save(tmp_path / "unsorted.npy", subset(C, A, B))
    report = info(path)
    assert not report.sorted
    assert (report.first_uid, report.last_uid) == (A, C)
    (tmp_path / "u.txt").write_text(f"{B}\n{A}\n")
    assert not info(tmp_path / "u.txt").sorted


# --- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("action", [info, read_uids, lambda p: convert(p, p.with_name("out.txt"))])
def test_wrong_dtype_names_file_and_dtype(tmp_path: Path, action: Callable[[Path], object]):
    path = save(tmp_path / "floats.npy", np.zeros(4, np.float64))
    with pytest.raises(InputError, match=r"floats\.npy.*float64"):
        action(path)


def test_malformed_text_uid_names_the_line(tmp_path: Path):
    path = tmp_path / "bad.txt"
    path.write_text(f"{A}\n\n{B}\n{C[:-1]}g\n")
    with pytest.raises(InputError, match=r"bad\.txt: line 4: .*'f{31}g'"):
        load_uids(path)


def test_long_malformed_line_is_clipped_in_the_message(tmp_path: Path):
    path = tmp_path / "long.txt"
    path.write_text(f"{A}\n{'a' * 100_000}\n")
    with pytest.raises(InputError, match=r"line 2: .*'a+\.\.\.$") as caught:
        load_uids(path)
    assert len(str(caught.value)) < 200


def test_malformed_parquet_uid_names_the_row(tmp_path: Path):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"uid": [A, None, B]}), path)
    with pytest.raises(InputError, match=r"bad\.parquet: row 1: .*None"):
        load_uids(path)


def test_parquet_without_uid_column(tmp_path: Path):
    path = tmp_path / "nouid.parquet"
    pq.write_table(pa.table({"key": [A]}), path)
    with pytest.raises(InputError, match=r"nouid\.parquet: no 'uid' column"):
        load_uids(path)


def test_raw_file_of_wrong_size(tmp_path: Path):
    (tmp_path / "odd.bin").write_bytes(bytes(range(17)))  # binary (b"x" * 17 is text now: line 1 is bad)
    with pytest.raises(InputError, match=r"odd\.bin.*not a multiple of 16"):
        info(tmp_path / "odd.bin")


def test_missing_input_and_unknown_output_suffix(tmp_path: Path, dup_file: Path):
    with pytest.raises(InputError, match="no such file"):
        info(tmp_path / "missing.npy")
    with pytest.raises(InputError, match=r"out\.csv.*\.npy, \.txt, \.parquet"):
        convert(dup_file, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


# --- set operations --------------------------------------------------------------------------
REFERENCE = {
    "intersect": lambda counters: _reduce(counters, lambda a, b: a & b),
    "union": lambda counters: _reduce(counters, lambda a, b: a | b),
    "diff": lambda counters: _reduce(counters, lambda a, b: a - b),
}
OPERATIONS = {"intersect": intersect, "union": union, "diff": diff}


def _reduce(counters: list[Counter[str]], op: Callable[[Counter[str], Counter[str]], Counter[str]]):
    out = counters[0]
    for c in counters[1:]:
        out = op(out, c)
    return out


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("n_inputs", [2, 3, 4])
def test_set_operations_match_counter(operation: str, n_inputs: int):
    rng = np.random.default_rng(n_inputs)
    keys = rng.integers(0, 2**64, size=(40, 2), dtype=np.uint64)
    keys[:10, 0] = keys[10:20, 0]  # same hi, different lo: the low half must decide
    pool = np.empty(len(keys), SUBSET_DTYPE)
    pool["f0"], pool["f1"] = keys[:, 0], keys[:, 1]
    inputs = [random_subset(rng, pool[rng.permutation(40)[:30]], 60) for _ in range(n_inputs)]
    shuffled = [inputs[0], *(rng.permutation(x) for x in inputs[1:])]  # any input order is accepted
    got = OPERATIONS[operation](iter(shuffled))
    expected = REFERENCE[operation]([Counter(to_hex(x)) for x in inputs])
    assert is_sorted(got)
    assert Counter(to_hex(got)) == expected
    assert got.dtype == SUBSET_DTYPE


def test_multiset_semantics_by_hand():
    a, b = subset(A, D, D, D, C), subset(D, C, C, B)
    assert list(to_hex(intersect([a, b]))) == [D, C]
    assert list(to_hex(union([a, b]))) == [A, B, D, D, D, C, C]
    assert list(to_hex(diff([a, b]))) == [A, D, D]
    assert list(to_hex(diff([a, b, subset(D, D)]))) == [A]
    assert len(intersect([a, np.zeros(0, SUBSET_DTYPE)])) == 0


def test_uids_ending_in_zero_bytes_stay_distinct():
    """Lookups compare 16-byte big-endian strings; numpy ignores trailing NULs there, so check edges."""
    edge = [f"{v:032x}" for v in (0, 1, 256, 2**64, 2**64 + 1, 2**72, 2**127, 2**128 - 256)]
    a = subset(*edge, edge[0], edge[3])
    b = subset(*edge[::2], edge[3], edge[3])
    for operation, op in OPERATIONS.items():
        expected = REFERENCE[operation]([Counter(to_hex(a)), Counter(to_hex(b))])
        assert Counter(to_hex(op([a, b]))) == expected, operation


def test_combine_files_mixed_formats_and_unsorted_input(tmp_path: Path):
    save(tmp_path / "a.npy", subset(C, D, A, D))  # unsorted on disk
    (tmp_path / "b.txt").write_text(f"{D}\n{A}\n{D}\n{D}\n")
    pq.write_table(pa.table({"uid": [D, B]}), tmp_path / "c.parquet")
    inputs = [tmp_path / "a.npy", tmp_path / "b.txt", tmp_path / "c.parquet"]
    result = combine_files("union", inputs, tmp_path / "union.npy")
    assert (result.count, result.distinct, result.input_counts) == (6, 4, [4, 4, 2])
    assert list(to_hex(np.load(tmp_path / "union.npy"))) == [A, B, D, D, D, C]
    combine_files("intersect", inputs, tmp_path / "both.txt")
    assert (tmp_path / "both.txt").read_text().splitlines() == [D]
    combine_files("diff", inputs[:2], tmp_path / "diff.parquet")
    assert pq.read_table(tmp_path / "diff.parquet").column("uid").to_pylist() == [C]


def test_combine_files_errors(tmp_path: Path, dup_file: Path):
    with pytest.raises(InputError, match="unknown set operation 'xor'"):
        combine_files("xor", [dup_file, dup_file], tmp_path / "out.npy")
    save(tmp_path / "ints.npy", np.arange(3, dtype=np.int64))
    with pytest.raises(InputError, match=r"ints\.npy.*int64"):
        combine_files("union", [dup_file, tmp_path / "ints.npy"], tmp_path / "out.npy")
    assert not (tmp_path / "out.npy").exists()
