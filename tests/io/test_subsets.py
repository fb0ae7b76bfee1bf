import logging

import numpy as np
import pytest

from pairsift.errors import InputError
from pairsift.io.subsets import occurrences, read_subset, write_subset
from pairsift.uids import SUBSET_DTYPE, from_hex, is_sorted, sort_keys, to_hex, to_keys

UIDS = ["f" * 32, "0" * 31 + "2", "0" * 31 + "2", "0" * 16 + "1" + "0" * 15]


def test_hex_convention_matches_datacomp():
    subset = from_hex(["0123456789abcdef0123456789ABCDEF"])
    hi, lo = divmod(int("0123456789abcdef0123456789ABCDEF", 16), 2**64)
    assert (int(subset["f0"][0]), int(subset["f1"][0])) == (hi, lo)
    assert to_hex(subset)[0] == "0123456789abcdef0123456789abcdef"


def test_round_trip_sorted_with_duplicates(tmp_path):
    path = write_subset(tmp_path / "s.npy", from_hex(UIDS))
    raw = np.load(path)
    assert raw.dtype == np.dtype("u8,u8") and is_sorted(raw) and len(raw) == 4
    assert sorted(UIDS, key=lambda u: int(u, 16)) == list(to_hex(read_subset(path)))
    assert list(occurrences(read_subset(path), to_keys(from_hex(["0" * 31 + "2", "e" * 32])))) == [2, 0]


def test_raw_memmap_is_accepted(tmp_path):
    subset = np.sort(from_hex(UIDS))
    subset.tofile(tmp_path / "raw.bin")
    assert (read_subset(tmp_path / "raw.bin") == subset).all()


def test_raw_file_of_the_wrong_size_is_refused(tmp_path):
    (tmp_path / "odd.bin").write_bytes(bytes(range(17)))  # binary: b"x" * 17 would now be read as text
    with pytest.raises(InputError, match="not a multiple of 16"):
        read_subset(tmp_path / "odd.bin")


@pytest.mark.parametrize("array", [np.arange(4), np.zeros((2, 2), np.uint64), np.zeros(2, "u4,u4")])
def test_wrong_dtype_is_refused_naming_the_file(tmp_path, array):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(InputError, match=r"bad\.npy: expected a 1-D array of dtype"):
        read_subset(tmp_path / "bad.npy")


def test_unsorted_file_is_sorted_with_a_warning(tmp_path, caplog):
    np.save(tmp_path / "u.npy", from_hex(UIDS))
    with caplog.at_level(logging.WARNING):
        subset = read_subset(tmp_path / "u.npy")
    assert is_sorted(subset) and "not sorted" in caplog.text


def test_other_field_names_with_the_same_layout_are_accepted(tmp_path):
    named = np.sort(from_hex(UIDS)).view(np.dtype([("hi", "<u8"), ("lo", "<u8")]))
    np.save(tmp_path / "n.npy", named)
    assert read_subset(tmp_path / "n.npy").dtype == SUBSET_DTYPE


def test_sort_keys_matches_a_structured_sort():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(0, 40))
        hi, lo = rng.integers(0, 3, n).astype(np.uint64), rng.integers(0, 4, n).astype(np.uint64)
        subset = np.empty(n, SUBSET_DTYPE)
        subset["f0"], subset["f1"] = hi, lo
        assert (sort_keys(hi.copy(), lo.copy()) == np.sort(subset, kind="stable")).all()
