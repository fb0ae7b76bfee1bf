"""Outputs on object storage (a real S3 API: moto's server on loopback, through s3fs): one upload per
object, nothing under a final name when a write fails, and bad buckets, endpoints, credentials and run
folders each a clear error naming the URL, with nothing already written overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pairsift.cli import main
from pairsift.errors import OutputError, RunConfigError
from pairsift.io.fs import atomic_write
from pairsift.io.location import RemotePath, output_path
from pairsift.stages.score import score
from tests.s3_server import download_tree, free_port


def test_local_paths_and_file_urls_stay_paths(tmp_path):
    assert output_path(str(tmp_path / "run")) == tmp_path / "run"
    assert output_path(f"file://{tmp_path}/run") == tmp_path / "run"
    assert isinstance(output_path("s3://bucket/run"), RemotePath)


def test_an_object_is_written_once_and_a_failed_write_leaves_nothing(s3):
    server, bucket = s3
    target = output_path(f"s3://{bucket}/run/table.bin")
    atomic_write(target, lambda fh: fh.write(b"first"))

    def fails(fh):
        fh.write(b"half of it")
        raise RuntimeError("killed midway")

    with pytest.raises(RuntimeError):
        atomic_write(target, fails)
    with pytest.raises(RuntimeError):
        atomic_write(target.parent / "other.bin", fails)
    assert download_tree(server.filesystem(), f"s3://{bucket}") == {"run/table.bin": b"first"}
    assert [p.name for p in target.parent.glob("*.bin")] == ["table.bin"]
    with pytest.raises(ValueError, match="atomic_write"):
        target.open("wb")


def run_score(score_config, pool: Path, output: str, *scorers: str):
    return score(score_config(pool, output, *(scorers or ("clip_score",))))


def test_a_bucket_that_does_not_exist_is_named(s3, make_pool, score_config):
    url = "s3://pairsift-no-such-bucket/run"
    with pytest.raises(
        OutputError,
        match=r"s3://pairsift-no-such-bucket/run: .*bucket 'pairsift-no-such-bucket' does not exist",
    ):
        run_score(score_config, make_pool(), url)


def test_an_endpoint_that_does_not_answer_is_named(s3_server, monkeypatch, make_pool, score_config):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's retries (s3fs still retries on its own)
    with (
        s3_server.configure(monkeypatch, endpoint=endpoint),
        pytest.raises(OutputError, match=r"s3://some-bucket/run: .*endpoint does not answer"),
    ):
        run_score(score_config, make_pool(), "s3://some-bucket/run")


def test_missing_credentials_are_named(s3_server, monkeypatch, make_pool, score_config, capsys):
    bucket = s3_server.new_bucket()
    with s3_server.configure(monkeypatch, credentials=False):
        with pytest.raises(OutputError, match=rf"s3://{bucket}/run: .*AWS_ACCESS_KEY_ID"):
            run_score(score_config, make_pool(), f"s3://{bucket}/run")
        assert (
            main(["-q", "score", str(make_pool("p2")), "-o", f"s3://{bucket}/run", "--scorer", "clip_score"])
            == 2
        )
    assert download_tree(s3_server.filesystem(), f"s3://{bucket}") == {}


def test_a_run_folder_of_an_older_version_is_refused_untouched(s3, make_pool, score_config):
    server, bucket = s3
    older = json.dumps({"versions": {"pairsift": "0.0.3"}, "pool": "elsewhere", "scorers": ["clip_score"]})
    fs = server.filesystem()
    fs.pipe_file(f"{bucket}/run/run.json", older.encode())
    with pytest.raises(
        RunConfigError, match=rf"s3://{bucket}/run/run.json was written by pairsift 0.0.3.*'scoring'"
    ):
        run_score(score_config, make_pool(), f"s3://{bucket}/run")
    assert download_tree(fs, f"s3://{bucket}") == {"run/run.json": older.encode()}


def test_a_prefix_holding_another_run_is_refused_untouched(s3, make_pool, score_config):
    server, bucket = s3
    pool, url = make_pool(), f"s3://{bucket}/run"
    assert run_score(score_config, pool, url).ok
    before = download_tree(server.filesystem(), url)
    assert sorted(before) == ["run.json", "scores/00000000.parquet", "scores/00000001.parquet"]
    with pytest.raises(
        RunConfigError, match=rf"s3://{bucket}/run holds a run made with another configuration"
    ):
        run_score(score_config, pool, url, "neg_clip_loss")
    assert download_tree(server.filesystem(), url) == before
