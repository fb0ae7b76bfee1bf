"""Issue 16 (8a): a uid column that does not hold strings (integers, floats, binary) is a clear error
naming the file, the column, the type found and the type expected, wherever uids are read from parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.errors import InputError
from pairsift.io.sources import SourceConfig, open_source
from pairsift.io.subsets import read_subset
from pairsift.report.labels import LabelIndex
from pairsift.stages.score import score
from pairsift.stages.score_config import ScoreConfig, ScorerSpec
from tests import pools

WRONG = {
    "int64": pa.array([1, 2, 3], pa.int64()),
    "double": pa.array([1.0, 2.0, 3.0], pa.float64()),
    "binary": pa.array([b"0" * 32] * 3, pa.binary()),
}


def with_uids(path: Path, uids: pa.Array, **columns: pa.Array) -> Path:
    pq.write_table(pa.table({"uid": uids, **columns}), path)
    return path


def expected(path: Path, kind: str) -> str:
    return rf"{path}: column 'uid' has type {kind}; expected strings of 32 hexadecimal characters"


@pytest.mark.parametrize("kind", list(WRONG))
def test_a_datacomp_metadata_parquet_with_non_string_uids(tmp_path, kind):
    pool = pools.make_pool(tmp_path / "pool", shards=1, rows=3)
    parquet = pool / "00000000.parquet"
    with_uids(parquet, WRONG[kind], text=pa.array(["a", "b", "c"]))
    with pytest.raises(InputError, match=expected(parquet, kind)):
        open_source(str(pool), "l14").read("00000000", frozenset({"image", "text"}))
    config = ScoreConfig(pool=str(pool), output=str(tmp_path / "run"), scorers=(ScorerSpec("clip_score"),))
    summary = score(config)
    (failure,) = summary.failures  # the shard fails with that message, not an ArrowTypeError
    assert failure.error.startswith("InputError: ") and "column 'uid' has type" in failure.error


def test_integer_uids_get_a_hint(tmp_path):
    pool = pools.make_pool(tmp_path / "pool", shards=1, rows=3)
    with_uids(pool / "00000000.parquet", WRONG["int64"])
    with pytest.raises(InputError, match=r"integers are not uids: write each as its 32 hex digits"):
        open_source(str(pool), "l14").read("00000000", frozenset({"image"}))


def test_a_parquet_pool_with_integer_uids(tmp_path):
    path = with_uids(
        tmp_path / "shard.parquet",
        WRONG["int64"],
        image_embedding=pa.array([[1.0, 0.0]] * 3),
        text_embedding=pa.array([[1.0, 0.0]] * 3),
    )
    source = open_source(str(tmp_path), "l14", SourceConfig(kind="parquet"))
    with pytest.raises(InputError, match=expected(path, "int64")):
        source.read("shard", frozenset({"image", "text"}))


def test_a_uid_list_and_a_labels_file_with_integer_uids(tmp_path):
    uids = with_uids(tmp_path / "uids.parquet", WRONG["int64"])
    with pytest.raises(InputError, match=expected(uids, "int64")):  # --restrict, reshard --subset, uids
        read_subset(uids)
    labels = with_uids(tmp_path / "labels.parquet", WRONG["int64"], label=pa.array(["a", "b", "c"]))
    with pytest.raises(InputError, match=expected(labels, "int64")):
        LabelIndex.read(labels, "label")


def test_all_null_uids_stay_rows_with_a_status(tmp_path):
    """A column pyarrow stores as type null is not a type error: each row is a malformed uid."""
    pool = pools.make_pool(tmp_path / "pool", shards=1, rows=3)
    with_uids(pool / "00000000.parquet", pa.nulls(3))
    batch = open_source(str(pool), "l14").read("00000000", frozenset({"image"}))
    assert list(batch.status) == ["malformed_uid"] * 3 and not np.any(batch.uid_ok)
