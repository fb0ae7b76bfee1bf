"""Issue 16, item 8 (part): a truncated tar under embed's DataLoader workers is one clean shard error
naming the file (no worker traceback, no "can only test a child process"), with 0 or 2 workers. The
rows before the damage are not written: the shard's parquet marks it done, and a partial shard must not
look finished; a rerun retries it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairsift.stages.embed import embed
from tests.hostile.tars import embed_config, encoder, sample_members, write


def pool_with_a_truncated_tar(root: Path) -> Path:
    """``a.tar`` cut in the middle of its fourth sample (read first), ``b.tar`` intact."""
    members = [m for i in range(6) for m in sample_members(f"{i:04d}", i)]
    tar = write(root / "a.tar", members)
    data = tar.read_bytes()
    tar.write_bytes(data[: len(data) // 2])
    write(root / "b.tar", [m for i in range(6, 9) for m in sample_members(f"{i:04d}", i)])
    return root


@pytest.mark.parametrize("workers", [0, 2])
def test_a_truncated_tar_is_one_clean_shard_error(
    tmp_path: Path, workers: int, capfd: pytest.CaptureFixture[str]
) -> None:
    raw = pool_with_a_truncated_tar(tmp_path / "in")
    summary = embed(embed_config(raw, tmp_path / "pool", num_workers=workers), encoder=encoder())
    assert [f.shard for f in summary.failures] == ["a"]
    error = summary.failures[0].error
    assert "\n" not in error and str(raw / "a.tar") in error and "truncated" in error
    assert "Traceback" not in error and "DataLoader worker" not in error
    captured = capfd.readouterr()
    for text in (captured.out, captured.err):
        assert "Traceback" not in text and "can only test a child process" not in text
    assert not (tmp_path / "pool" / "a.parquet").exists() and not (tmp_path / "pool" / "a.npz").exists()
    assert (tmp_path / "pool" / "b.parquet").exists() and summary.rows == 3
