"""Bad input end to end: bad files fail loudly and by name, bad rows become statuses, bad runs are refused."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.cli import main
from pairsift.data import (
    DUPLICATE_UID,
    MALFORMED_UID,
    NAN_IMAGE,
    NAN_TEXT,
    OK,
    ZERO_NORM_IMAGE,
    ZERO_NORM_TEXT,
)
from pairsift.errors import ConfigError, InputError, RunConfigError
from pairsift.registry import UnknownNameError
from pairsift.scorers import SCORERS
from pairsift.stages.score import score
from tests.pools import family_arrays, hex_uids, npz_bytes, parquet_bytes, read_npz, unit_rows, write_shard

SCORER_NAMES = ("clip_score", "column", "neg_clip_loss", "norm_sim", "norm_sim_d")


def cli(pool: Path, run: Path, *args: str) -> int:
    return main(["-q", "score", str(pool), "-o", str(run), "--device", "cpu", *args])


def errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def table(run: Path, shard: str) -> pa.Table:
    return pq.read_table(run / "scores" / f"{shard}.parquet")


def cosine(image: np.ndarray, text: np.ndarray) -> np.ndarray:
    image = image / np.linalg.norm(image, axis=1, keepdims=True)
    text = text / np.linalg.norm(text, axis=1, keepdims=True)
    return (image * text).sum(axis=1)


# --- files that cannot be used ----------------------------------------------------------------


def test_missing_npz_names_the_file(make_pool, tmp_path, score_config, caplog):
    pool = make_pool(shards=3, rows=5, dim=4)
    (pool / "00000001.npz").unlink()
    with pytest.raises(InputError) as err:
        score(score_config(pool, tmp_path / "run", "clip_score"))
    assert str(pool / "00000001.parquet") in str(err.value)
    assert str(pool / "00000001.npz") in str(err.value)
    assert not (tmp_path / "run").exists()  # refused before anything was written

    assert cli(pool, tmp_path / "run", "--scorer", "clip_score") == 2
    assert str(pool / "00000001.npz") in errors(caplog)


def test_row_count_mismatch_names_file_and_counts(make_pool, tmp_path, score_config, caplog):
    pool = make_pool(shards=2, rows=50, dim=8)
    arrays = read_npz(pool / "00000001.npz")
    (pool / "00000001.npz").write_bytes(npz_bytes(**{k: v[:49] for k, v in arrays.items()}))
    summary = score(score_config(pool, tmp_path / "run", "clip_score"))
    assert [f.shard for f in summary.failures] == ["00000001"]
    error = summary.failures[0].error
    assert str(pool / "00000001.npz") in error
    assert "has 49 rows but the metadata has 50" in error
    assert (tmp_path / "run" / "scores" / "00000000.parquet").exists()
    assert not (tmp_path / "run" / "scores" / "00000001.parquet").exists()

    assert cli(pool, tmp_path / "run2", "--scorer", "clip_score") == 1


def test_missing_npz_key_lists_the_keys_found(make_pool, tmp_path, score_config, caplog):
    pool = make_pool(shards=1, rows=5, dim=4, family="l14")
    summary = score(score_config(pool, tmp_path / "run", "clip_score", embeddings="b32"))
    assert len(summary.failures) == 1
    error = summary.failures[0].error
    assert "no key 'b32_img'" in error and "'b32'" in error
    assert "keys found: ['l14_img', 'l14_txt']" in error
    assert str(pool / "00000000.npz") in error

    assert cli(pool, tmp_path / "run2", "--scorer", "clip_score", "--embeddings", "b32") == 1
    assert "keys found: ['l14_img', 'l14_txt']" in errors(caplog)


def test_dimension_mismatch_with_norm_sim_target_names_both_dims(make_pool, tmp_path, score_config):
    pool = make_pool(shards=2, rows=10, dim=16)
    target = tmp_path / "targets.npy"
    np.save(target, unit_rows(20, 8))
    summary = score(score_config(pool, tmp_path / "run", f"norm_sim:target={target}"))
    assert sorted(f.shard for f in summary.failures) == ["00000000", "00000001"]
    error = summary.failures[0].error
    assert "dimension 16" in error and "dimension 8" in error
    assert str(target) in error
    assert cli(pool, tmp_path / "run2", "--scorer", f"norm_sim:target={target}") == 1


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_nan_and_zero_norm_rows_get_a_status_and_nan_scores(tmp_path, score_config, dtype):
    rows = 12
    image, text = unit_rows(rows, 8, seed=0), unit_rows(rows, 8, seed=1)
    image[0, 3] = np.nan
    image[1] = 0.0
    text[2, :] = np.nan
    text[3] = 0.0
    image[4, 0] = np.inf
    image[5], text[5] = np.nan, 0.0  # both: the image problem is reported
    pool = tmp_path / "pool"
    write_shard(pool, "s", hex_uids(rows), family_arrays(image, text, dtype=dtype))
    target = tmp_path / "targets.npy"
    np.save(target, unit_rows(30, 8, seed=2))

    summary = score(
        score_config(pool, tmp_path / "run", "clip_score", f"norm_sim:target={target}", "neg_clip_loss:k=2")
    )
    assert summary.ok
    t = table(tmp_path / "run", "s")
    expected = [NAN_IMAGE, ZERO_NORM_IMAGE, NAN_TEXT, ZERO_NORM_TEXT, NAN_IMAGE, NAN_IMAGE] + [OK] * 6
    assert t.column("status").to_pylist() == expected

    clip = t.column("clip_score").to_numpy()
    both_bad = np.arange(rows) < 6
    assert np.isnan(clip[both_bad]).all()
    stored = read_npz(pool / "s.npz")
    want = cosine(stored["l14_img"][6:].astype(np.float64), stored["l14_txt"][6:].astype(np.float64))
    np.testing.assert_allclose(clip[6:], want, atol=1e-5)
    assert np.isnan(t.column("neg_clip_loss").to_numpy()[both_bad]).all()
    assert np.isfinite(t.column("neg_clip_loss").to_numpy()[~both_bad]).all()

    # norm_sim needs only the image: rows whose only problem is the text still get a score
    norm = t.column("norm_sim_2").to_numpy()
    assert np.isnan(norm[[0, 1, 4, 5]]).all()
    assert np.isfinite(norm[[2, 3]]).all() and np.isfinite(norm[6:]).all()

    assert summary.statuses == {NAN_IMAGE: 3, NAN_TEXT: 1, OK: 6, ZERO_NORM_IMAGE: 1, ZERO_NORM_TEXT: 1}
    assert summary.columns["clip_score"]["scored"] == 6
    assert summary.columns["norm_sim_2"]["scored"] == 8


def test_duplicate_uids_within_a_shard(tmp_path, score_config):
    uids = hex_uids(8)
    uids[5] = uids[2]
    uids[7] = uids[2]
    image, text = unit_rows(8, 8), unit_rows(8, 8, seed=1)
    write_shard(tmp_path / "pool", "a", uids, family_arrays(image, text))
    # the same uid in a later shard is a duplicate too (issue 16): the first occurrence is a's row 2
    write_shard(tmp_path / "pool", "b", [uids[2]], family_arrays(image[:1], text[:1]))
    summary = score(score_config(tmp_path / "pool", tmp_path / "run", "clip_score"))
    t = table(tmp_path / "run", "a")
    status = t.column("status").to_pylist()
    assert status == [OK, OK, OK, OK, OK, DUPLICATE_UID, OK, DUPLICATE_UID]
    clip = t.column("clip_score").to_numpy()
    assert np.isnan(clip[[5, 7]]).all()
    np.testing.assert_allclose(clip[2], cosine(image, text)[2], atol=1e-6)
    assert table(tmp_path / "run", "b").column("status").to_pylist() == [DUPLICATE_UID]
    assert summary.statuses == {DUPLICATE_UID: 3, OK: 6}


def test_malformed_uids(tmp_path, score_config):
    good = hex_uids(3)
    uids = [
        good[0],
        "",
        "xyz",
        good[1][:31],
        good[1] + "0",
        good[1][:31] + "g",
        good[1][:31] + "é",
        None,
        good[2].upper(),
    ]
    n = len(uids)
    write_shard(tmp_path / "pool", "s", uids, family_arrays(unit_rows(n, 4), unit_rows(n, 4, seed=1)))
    summary = score(score_config(tmp_path / "pool", tmp_path / "run", "clip_score"))
    t = table(tmp_path / "run", "s")
    assert t.column("status").to_pylist() == [OK] + [MALFORMED_UID] * 7 + [OK]
    assert t.column("uid").to_pylist()[:3] == uids[:3]  # uids are written back as given
    clip = t.column("clip_score").to_numpy()
    assert np.isnan(clip[1:8]).all() and np.isfinite(clip[[0, 8]]).all()
    assert summary.statuses == {MALFORMED_UID: 7, OK: 2}


def test_empty_shard_writes_an_empty_table(make_pool, tmp_path, score_config):
    pool = make_pool(shards=1, rows=20, dim=8)
    write_shard(pool, "00000009", [], family_arrays(np.zeros((0, 8)), np.zeros((0, 8)), dtype="float16"))
    summary = score(score_config(pool, tmp_path / "run", "clip_score", "neg_clip_loss:k=2"))
    assert summary.ok and summary.shards == 2 and summary.rows == 20
    t = table(tmp_path / "run", "00000009")
    assert t.num_rows == 0
    assert t.schema.names == ["uid", "status", "clip_score", "neg_clip_loss"]
    assert [str(x) for x in t.schema.types] == ["string", "string", "float", "float"]


def test_pool_of_only_empty_shards(tmp_path):
    write_shard(tmp_path / "pool", "s", [], family_arrays(np.zeros((0, 8)), np.zeros((0, 8))))
    assert cli(tmp_path / "pool", tmp_path / "run", "--scorer", "clip_score") == 0
    assert table(tmp_path / "run", "s").num_rows == 0


CORRUPTIONS = {
    "parquet-garbage": ("parquet", lambda data: b"PAR1 this is not parquet PAR1"),
    "parquet-truncated": ("parquet", lambda data: data[: len(data) // 2]),
    "npz-garbage": ("npz", lambda data: b"not a zip file at all"),
    "npz-truncated": ("npz", lambda data: data[: len(data) // 2]),
    "npz-empty": ("npz", lambda data: b""),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_file_fails_its_shard_only(make_pool, tmp_path, score_config, case, caplog):
    suffix, corrupt = CORRUPTIONS[case]
    pool = make_pool(shards=3, rows=10, dim=8)
    bad = pool / f"00000001.{suffix}"
    bad.write_bytes(corrupt(bad.read_bytes()))
    run = tmp_path / "run"
    summary = score(score_config(pool, run, "clip_score"))
    assert [f.shard for f in summary.failures] == ["00000001"]
    assert str(bad) in summary.failures[0].error
    assert sorted(p.name for p in (run / "scores").iterdir()) == ["00000000.parquet", "00000002.parquet"]
    for shard in ("00000000", "00000002"):
        t = table(run, shard)
        assert t.num_rows == 10 and t.column("status").to_pylist() == [OK] * 10
    assert summary.rows == 20

    run2 = tmp_path / "run2"
    assert cli(pool, run2, "--scorer", "clip_score") == 1
    assert str(bad) in errors(caplog)
    assert not (run2 / "scores" / "00000001.parquet").exists()


def flip_member_byte(data: bytes, member: bytes, offset: int = 300) -> bytes:
    corrupted = bytearray(data)
    corrupted[corrupted.index(member) + offset] ^= 0xFF
    return bytes(corrupted)


def test_corrupt_npz_member_error_names_the_file(make_pool, tmp_path, score_config):
    pool = make_pool(shards=2, rows=10, dim=8)
    bad = pool / "00000001.npz"
    bad.write_bytes(flip_member_byte(bad.read_bytes(), b"l14_img.npy"))
    summary = score(score_config(pool, tmp_path / "run", "clip_score"))
    assert [f.shard for f in summary.failures] == ["00000001"]
    assert str(bad) in summary.failures[0].error


def test_unloadable_npz_member_error_names_the_file(make_pool, tmp_path, score_config):
    pool = make_pool(shards=1, rows=4, dim=8)
    bad = pool / "00000000.npz"
    bad.write_bytes(npz_bytes(l14_img=np.array([None] * 4, dtype=object), l14_txt=unit_rows(4, 8)))
    summary = score(score_config(pool, tmp_path / "run", "clip_score"))
    assert len(summary.failures) == 1
    assert str(bad) in summary.failures[0].error


def test_fixing_a_failed_shard_and_rerunning_scores_only_it(make_pool, tmp_path, score_config):
    pool = make_pool(shards=3, rows=10, dim=8)
    good = (pool / "00000001.parquet").read_bytes()
    (pool / "00000001.parquet").write_bytes(b"garbage")
    run = tmp_path / "run"
    config = score_config(pool, run, "clip_score")
    assert not score(config).ok
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (run / "scores").iterdir()}
    (pool / "00000001.parquet").write_bytes(good)
    summary = score(config)
    assert summary.ok and summary.processed == 1 and summary.skipped == 2 and summary.rows == 30
    for name, (data, mtime) in before.items():
        path = run / "scores" / name
        assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime


# --- scorer names and parameters --------------------------------------------------------------


def test_unknown_scorer_lists_the_available_ones(make_pool, tmp_path, score_config, caplog):
    pool = make_pool(shards=1, rows=4, dim=4)
    with pytest.raises(UnknownNameError) as err:
        score(score_config(pool, tmp_path / "run", "clip_scroe"))
    message = str(err.value)
    assert "unknown scorer 'clip_scroe'" in message
    assert "available: " + ", ".join(SCORERS.names()) in message  # every registered name, sorted
    assert set(SCORER_NAMES) <= set(SCORERS.names())

    assert cli(pool, tmp_path / "run", "--scorer", "clip_scroe") == 2
    assert "available: " + ", ".join(SCORERS.names()) in errors(caplog)


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("clip_score:foo=1", ["scorer 'clip_score'", "foo"]),
        ("neg_clip_loss:k=0", ["k must be >= 1, got 0"]),
        ("neg_clip_loss:batch_size=0", ["batch_size must be >= 1"]),
        ("neg_clip_loss:tau=-1", ["tau must be > 0"]),
        ("neg_clip_loss:remainder=odd", ["remainder must be one of", "'odd'"]),
        ("norm_sim", ["norm_sim needs target="]),
        ("norm_sim:target=t.npy,p=0.5", ["p must be >= 1 or 'inf'"]),
        ("norm_sim:target=t.npy,p=big", ["p must be a number >= 1 or 'inf'"]),
    ],
)
def test_bad_scorer_params(make_pool, tmp_path, score_config, caplog, spec, fragments):
    pool = make_pool(shards=1, rows=4, dim=4)
    with pytest.raises(ValueError) as err:
        score(score_config(pool, tmp_path / "run", spec))
    for fragment in fragments:
        assert fragment in str(err.value)
    assert cli(pool, tmp_path / "run", "--scorer", spec) == 2
    assert fragments[0] in errors(caplog)


def test_bad_scorer_param_value_names_scorer_and_parameter(make_pool, tmp_path, score_config):
    pool = make_pool(shards=1, rows=4, dim=4)
    with pytest.raises(ValueError) as err:
        score(score_config(pool, tmp_path / "run", "neg_clip_loss:k=abc"))
    assert "neg_clip_loss" in str(err.value) and "k" in str(err.value).replace("invalid literal", "")


def test_two_scorers_writing_one_column_are_refused(make_pool, tmp_path, score_config):
    pool = make_pool(shards=1, rows=4, dim=4)
    with pytest.raises(ConfigError, match=r"\['clip_score'\].*distinct name="):
        score(score_config(pool, tmp_path / "run", "clip_score", "clip_score"))
    with pytest.raises(ConfigError, match="reserved"):
        score(score_config(pool, tmp_path / "run", "clip_score:name=status"))
    # distinct names make it fine
    summary = score(score_config(pool, tmp_path / "run", "clip_score", "clip_score:name=clip2"))
    t = table(tmp_path / "run", "00000000")
    np.testing.assert_array_equal(t.column("clip_score").to_numpy(), t.column("clip2").to_numpy())
    assert summary.ok


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--precision", "bf16"], "precision 'bf16' is for GPUs only"),
        (["--precision", "fp8"], "unknown precision 'fp8'"),
        (["--workers", "0"], "engine.workers must be an integer >= 1"),
    ],
)
def test_bad_compute_settings_are_user_errors(make_pool, tmp_path, caplog, args, fragment):
    pool = make_pool(shards=1, rows=4, dim=4)
    assert cli(pool, tmp_path / "run", "--scorer", "clip_score", *args) == 2
    assert fragment in errors(caplog)


def test_non_integer_workers_is_a_user_error(make_pool, tmp_path):
    pool = make_pool(shards=1, rows=4, dim=4)
    assert cli(pool, tmp_path / "run", "--scorer", "clip_score", "--set", "compute.workers=two") == 2


# --- reruns into an existing run directory --------------------------------------------------------


def test_rerun_with_another_config_is_refused(make_pool, tmp_path, score_config, caplog):
    pool = make_pool(shards=2, rows=6, dim=4)
    run = tmp_path / "run"
    assert score(score_config(pool, run, "clip_score")).ok
    manifest = (run / "run.json").read_bytes()

    with pytest.raises(RunConfigError) as err:
        score(score_config(pool, run, "clip_score", "neg_clip_loss:k=2", seed=3))
    message = str(err.value)
    assert str(run) in message
    lines = {line.strip().split(":")[0] for line in message.splitlines() if line.startswith("  ")}
    assert lines == {"scorers", "seed"}
    assert "was 0, now 3" in message
    assert (run / "run.json").read_bytes() == manifest

    with pytest.raises(RunConfigError, match=r"embeddings: was \"l14\", now \"b32\""):
        score(score_config(pool, run, "clip_score", embeddings="b32"))

    assert cli(pool, run, "--scorer", "clip_score", "--scorer", "neg_clip_loss:k=3") == 2
    assert "refusing to mix scores" in errors(caplog)
    assert (run / "run.json").read_bytes() == manifest


def test_rerun_with_other_workers_or_device_skips_finished_shards(make_pool, tmp_path, score_config):
    pool = make_pool(shards=3, rows=8, dim=4)
    run = tmp_path / "run"
    assert score(score_config(pool, run, "clip_score", "neg_clip_loss:k=2")).ok
    tables = sorted((run / "scores").iterdir())
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tables}
    manifest = (run / "run.json").read_bytes()

    # every shard done: nothing is scored, so workers=4 starts no process
    summary = score(score_config(pool, run, "clip_score", "neg_clip_loss:k=2", workers=4, device="auto"))
    assert summary.ok and summary.processed == 0 and summary.skipped == 3 and summary.rows == 24
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tables} == before
    assert (run / "run.json").read_bytes() == manifest  # the first run's record is kept

    # one table gone: only that shard is scored again, to the same bytes
    lost = tables[1]
    lost.unlink()
    summary = score(score_config(pool, run, "clip_score", "neg_clip_loss:k=2", workers=2))
    assert summary.ok and summary.processed == 1 and summary.skipped == 2
    assert lost.read_bytes() == before[lost][0]
    for p in (tables[0], tables[2]):
        assert (p.read_bytes(), p.stat().st_mtime_ns) == before[p]
    assert not [p for p in (run / "scores").iterdir() if p.name.startswith(".")]


def test_mean_in_summary_matches_the_tables(make_pool, tmp_path, score_config):
    pool = make_pool(shards=2, rows=10, dim=8)
    summary = score(score_config(pool, tmp_path / "run", "clip_score"))
    values = np.concatenate(
        [table(tmp_path / "run", s).column("clip_score").to_numpy() for s in ("00000000", "00000001")]
    )
    stats = summary.columns["clip_score"]
    assert stats["scored"] == 20
    assert math.isclose(stats["mean"], float(values.astype(np.float64).mean()), rel_tol=1e-6)
    assert stats["min"] == float(values.min()) and stats["max"] == float(values.max())


def test_uid_column_with_parquet_source_through_cli(tmp_path, caplog):
    uids = hex_uids(3)
    rows = pa.array([list(map(float, r)) for r in unit_rows(3, 4)], pa.list_(pa.float32()))
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "s.parquet").write_bytes(parquet_bytes(pa.table({"id": uids, "i": rows, "t": rows})))
    args = ["--scorer", "clip_score", "--source", "parquet", "--image-column", "i", "--text-column", "t"]
    assert cli(tmp_path / "pool", tmp_path / "run", *args) == 1  # uid column missing: the shard fails
    assert "missing column(s) ['uid']" in errors(caplog)
    assert cli(tmp_path / "pool", tmp_path / "run2", *args, "--uid-column", "id") == 0
    t = table(tmp_path / "run2", "s")
    assert t.column("uid").to_pylist() == uids
    np.testing.assert_allclose(t.column("clip_score").to_numpy(), 1.0, atol=1e-6)
    assert os.path.exists(tmp_path / "run2" / "run.json")
