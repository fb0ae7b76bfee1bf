"""Property tests of the tar reader and of reshard on random hostile tars (issue 16): random member names
(traversal, absolute, control characters, absurd lengths), member types (links, devices, FIFOs,
directories), sizes around the caps, gzip or not, cut at a random byte. Whatever the tar: a clear error
naming the file or a recorded status, never a traceback, never a partial file under a final name."""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairsift.errors import InputError
from pairsift.io.limits import ReadLimits
from pairsift.io.member_names import name_problem
from pairsift.io.sample_uids import derived_uid
from pairsift.io.subsets import write_subset
from pairsift.io.tars import read_samples, sample_key
from pairsift.stages.reshard import ReshardConfig, reshard
from pairsift.uids import from_keys, parse_uids
from tests.hostile.tars import outside_after_extract

LIMITS = ReadLimits(max_image_bytes=2000, max_caption_bytes=300, max_json_bytes=300, max_shard_bytes=40_000)
HOSTILE_NAMES = [
    "../x.jpg",
    "/tmp/pairsift-prop-abs.jpg",
    "d/../../x.jpg",
    "a//b.jpg",
    "..\\x.jpg",
    "n\nl.jpg",
    "x" * 300 + ".jpg",
    "./ok.jpg",
    "dir/",
]
NAMES = st.one_of(
    st.sampled_from(["a.jpg", "a.txt", "a.json", "b.jpg", "b.txt", "dir/c.jpg", *HOSTILE_NAMES]),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
)
KINDS = st.sampled_from(
    [tarfile.REGTYPE] * 4 + [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.FIFOTYPE]
)
MEMBERS = st.lists(st.tuples(NAMES, KINDS, st.integers(0, 2600)), min_size=1, max_size=8)
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: a reshard run per example costs ~0.3 s on a loaded 2-core machine
RESHARD_EXAMPLES = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(members: list[tuple[str, bytes, int]], compress: bool, cut: float | None) -> tuple[bytes, int]:
    """The tar's bytes (cut at ``cut`` of its length) and how many non-directory members it holds."""
    buffer = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, size in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "target" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            data = bytes([65]) * size if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
            count += kind != tarfile.DIRTYPE
    data = gzip.compress(buffer.getvalue(), mtime=0) if compress else buffer.getvalue()
    if cut is not None:
        data = data[: int(len(data) * cut)]
    return data, count


@EXAMPLES
@given(members=MEMBERS, compress=st.booleans(), cut=st.none() | st.floats(0, 1))
def test_reader_gives_a_clear_error_or_recorded_statuses(
    members: list[tuple[str, bytes, int]], compress: bool, cut: float | None
) -> None:
    data, count = build(members, compress, cut)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.tar"
        path.write_bytes(data)
        try:
            samples = list(read_samples(str(path), LIMITS))
        except InputError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)
            return
    assert sum(len(s.members) + len(s.refused) for s in samples) == count
    for sample in samples:
        for info, content in sample.members:
            assert info.isreg() and name_problem(info.name) is None and len(content) <= LIMITS.max_image_bytes
        assert all(r.status in ("unsafe_member", "member_too_large") and r.detail for r in sample.refused)


@RESHARD_EXAMPLES
@given(members=MEMBERS, compress=st.booleans(), cut=st.none() | st.floats(0.5, 1))
def test_reshard_fails_cleanly_or_writes_only_safe_tars(
    members: list[tuple[str, bytes, int]], compress: bool, cut: float | None
) -> None:
    data, _ = build(members, compress, cut)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        (root / "in" / "t.tar").write_bytes(data)
        every = sorted({derived_uid("t", sample_key(name)) for name, _, _ in members})
        keys, _ = parse_uids(np.array(every, dtype=object))
        write_subset(root / "s.npy", from_keys(keys))
        out = root / "out"
        summary = reshard(ReshardConfig(str(root / "in"), str(root / "s.npy"), str(out), limits=LIMITS))
        finals = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        if summary.failures:
            assert [f.shard for f in summary.failures] == ["t"] and "\n" not in summary.failures[0].error
            assert finals == ["reshard.json", "summary.json"]  # nothing of the shard under a final name
            return
        assert summary.kept_samples + summary.refused == summary.input_samples  # every uid is listed
        for tar in out.glob("*.tar"):
            assert outside_after_extract(tar, root / "x" / tar.stem) == []
    assert not list(Path("/tmp").glob("pairsift-prop-abs*"))
