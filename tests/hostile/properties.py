"""Hypothesis profiles and strategies for the reader property tests (tests/hostile/test_reader_properties.py).

Profiles (choose with ``HYPOTHESIS_PROFILE``; docs/reliability.md):

- ``ci`` (default): few examples per property, no deadline (the CI machine is shared), no example
  database, so the whole file stays within its 25 s budget on 2 loaded cores;
- ``thorough``: 20x the examples, for a long local hunt (``HYPOTHESIS_PROFILE=thorough pytest
  tests/hostile/test_reader_properties.py``), with the example database so failures are replayed.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pairsift.errors import ConfigError, InputError

T = TypeVar("T")
CI_EXAMPLES = 12

settings.register_profile(
    "ci",
    max_examples=CI_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=20 * CI_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def clear_or(call: Callable[[], T], names: str | Path) -> T | None:
    """``call()``'s result, or None when it raised a clear error (InputError/ConfigError) whose message
    names ``names`` (a file, usually). Any other exception propagates: that is the failure."""
    try:
        return call()
    except (InputError, ConfigError) as exc:
        assert str(names) in str(exc), f"the error does not name {names}: {exc}"
        assert "Traceback" not in str(exc)
        return None


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def npy_header(descr: str, shape: tuple[int, ...], fortran: bool = False) -> bytes:
    """A version 1.0 ``.npy`` header declaring ``shape`` (with no data after it)."""
    header = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode("latin1")
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Truncations at any offset, a few overwritten bytes, bytes appended, or garbage."""
    n = len(valid)
    truncated = st.integers(0, max(n - 1, 0)).map(lambda k: valid[:k])
    flipped = st.lists(
        st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, 255)), min_size=1, max_size=8
    ).map(lambda edits: _edit(valid, edits))
    appended = st.binary(min_size=1, max_size=64).map(lambda extra: valid + extra)
    return st.one_of(truncated, flipped, appended, st.binary(max_size=256), st.just(b""))


def _edit(valid: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(valid)
    for pos, value in edits:
        if out:
            out[pos % len(out)] = value
    return bytes(out)


#: numeric and string dtypes of either byte order, structured dtypes, with shapes of 0 to 3 dims
any_dtype = st.one_of(
    hnp.scalar_dtypes(),
    hnp.byte_string_dtypes(max_len=4),
    hnp.unicode_string_dtypes(max_len=4),
    hnp.array_dtypes(hnp.scalar_dtypes(), max_size=3),
    hnp.integer_dtypes(endianness=">"),
    hnp.floating_dtypes(endianness=">"),
)
any_array = any_dtype.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
#: pickled objects: what allow_pickle=False must refuse
pickled = st.sampled_from(
    [
        np.array([{"a": 1}, None], dtype=object),
        np.array([[1.0, "x"]], dtype=object),
        np.array([], dtype=object),
    ]
).map(lambda a: npy_bytes(a, allow_pickle=True))
#: headers declaring far more rows than the file holds
huge_headers = st.tuples(st.sampled_from(["<f4", "<f2", "<u8", "|u1"]), st.integers(2**31, 2**45)).map(
    lambda t: npy_header(t[0], (t[1], 8))
)


def hostile_npy(valid: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(mutations(valid), any_array.map(npy_bytes), pickled, huge_headers)


def floats_matrix(rows: int, dim: int) -> st.SearchStrategy[np.ndarray]:
    """Float matrices with NaN, inf, zeros and huge values among ordinary ones."""
    return hnp.arrays(
        st.sampled_from([np.float16, np.float32, np.float64]),
        (rows, dim),
        elements=st.one_of(
            st.floats(-2, 2, width=16), st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 6e4, -6e4])
        ),
    )


def hex_uid(i: int) -> str:
    return f"{i * 2654435761 % 2**64:016x}{i:016x}"


def any_of(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)
