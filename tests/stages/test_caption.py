"""``pairsift caption`` and SIEVE scoring on a small world with a random tiny BLIP: statuses, determinism,
the settings manifest, resume after SIGKILL, and cache reuse by the scorer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pairsift.errors import ConfigError
from pairsift.models.caption_settings import CaptionSettings
from pairsift.stages.caption import CaptionConfig, caption
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec
from pairsift.world import WorldConfig, generate
from tests.models.tiny_blip import save_tiny_blip

SETTINGS = CaptionSettings(num_captions=2, max_length=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("capworld") / "w"
    generate(out, WorldConfig(samples=60, shard_size=20, seed=11, task_samples=4, tasks=("shape",)))
    return out


@pytest.fixture(scope="module")
def blip(tmp_path_factory) -> Path:
    return save_tiny_blip(tmp_path_factory.mktemp("capblip") / "blip")


def config(world: Path, blip: Path, out: Path, **kw) -> CaptionConfig:
    fields = dict(settings=SETTINGS, device="cpu", batch_size=8, num_workers=0)
    fields.update(kw)
    return CaptionConfig(input=str(world / "pool"), output=str(out), model=str(blip), **fields)


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.parquet"))}


@pytest.fixture(scope="module")
def cached(world, blip, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cache") / "captions"
    summary = caption(config(world, blip, out))
    assert summary.ok and summary.processed == 3 and summary.rows == 60
    return out


def test_cache_rows_statuses_and_captions(world, cached):
    labels = pq.read_table(world / "labels.parquet").to_pylist()
    rows = [r for p in sorted(cached.glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    assert [r["uid"] for r in rows] == [r["uid"] for r in labels]
    corrupt = {r["uid"] for r in labels if r["kind"] == "corrupt"}
    assert corrupt, "the world should hold corrupt images"
    for row in rows:
        if row["uid"] in corrupt:
            assert row["status"] == "corrupt_image" and row["captions"] is None
        else:
            assert row["status"] == "ok" and len(row["captions"]) == 2
            assert all(isinstance(c, str) and not c.startswith("a picture of") for c in row["captions"])


def test_decoding_workers_do_not_change_the_captions(world, blip, cached, tmp_path):
    caption(config(world, blip, tmp_path / "c", num_workers=2))
    assert files(tmp_path / "c") == files(cached)


def test_rerun_skips_and_other_settings_are_refused(world, blip, cached):
    again = caption(config(world, blip, cached))
    assert again.processed == 0 and again.skipped == 3
    with pytest.raises(ConfigError, match="settings"):
        caption(config(world, blip, cached, settings=replace(SETTINGS, top_p=0.5)))
    with pytest.raises(ConfigError, match="seed"):
        caption(config(world, blip, cached, seed=1))


def command(world: Path, blip: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "pairsift.cli", "-q", "caption", str(world / "pool"), "-o", str(out),
        "--model", str(blip), "--device", "cpu", "--num-captions", "2", "--max-length", "10",
        "--batch-size", "8", "--num-workers", "0",
    ]  # fmt: skip


def test_resume_after_sigkill_is_byte_identical(world, blip, cached, tmp_path):
    out = tmp_path / "captions"
    proc = subprocess.Popen(command(world, blip, out), env=dict(os.environ, PYTHONUNBUFFERED="1"))
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and len(files(out) if out.exists() else {}) < 1:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 1 <= len(files(out)) < 3, "the kill should land between shards"
    subprocess.run(command(world, blip, out), check=True)
    assert files(out) == files(cached)
    assert not list(out.glob(".*.tmp"))


@pytest.fixture(scope="module")
def pool(world, tmp_path_factory) -> Path:
    from pairsift.stages.embed import EmbedConfig, embed

    out = tmp_path_factory.mktemp("cappool") / "pool"
    embed(EmbedConfig(input=str(world / "pool"), output=str(out), model="pairsift:tiny-world", device="cpu"))
    return out


def sieve_run(pool: Path, out: Path, **params) -> ScoreConfig:
    return ScoreConfig(
        pool=str(pool),
        output=str(out),
        embeddings="tiny_world",
        scorers=(ScorerSpec("clip_score"), ScorerSpec("sieve", params)),
        compute=ComputeConfig(device="cpu"),
    )


def test_scorer_captions_missing_shards_once_then_reuses_the_cache(world, blip, pool, tmp_path, monkeypatch):
    from pairsift.stages import caption as caption_stage
    from pairsift.stages.score import score

    loads = []
    real = caption_stage.load_captioner
    monkeypatch.setattr(caption_stage, "load_captioner", lambda *a, **k: loads.append(a) or real(*a, **k))
    cache = tmp_path / "captions"
    params = dict(captions=str(cache), images=str(world / "pool"), captioner=str(blip), num_captions=2)
    params["caption_batch_size"] = 8
    first = score(sieve_run(pool, tmp_path / "run1", **params))
    assert first.ok and len(loads) == 1 and len(files(cache)) == 3
    before = files(cache)
    second = score(sieve_run(pool, tmp_path / "run2", mask="words", **params))
    assert second.ok and len(loads) == 1, "the second scoring run must not load the captioner"
    assert files(cache) == before
    # the scorer's captions are exactly what `pairsift caption` writes with the same settings
    caption(config(world, blip, tmp_path / "cli", settings=CaptionSettings(num_captions=2), batch_size=8))
    assert files(tmp_path / "cli") == before


def test_sieve_scores_in_the_run(world, cached, pool, tmp_path):
    from pairsift.stages.score import score

    summary = score(sieve_run(pool, tmp_path / "run", captions=str(cached)))
    assert summary.ok
    table = pq.read_table(sorted((tmp_path / "run" / "scores").glob("*.parquet"))[0])
    assert table.schema.names == ["uid", "status", "clip_score", "sieve", "sieve_mean", "sieve_caption"]
    sieve, mean = table.column("sieve").to_numpy(), table.column("sieve_mean").to_numpy()
    ok = ~np.isnan(sieve)
    assert ok.sum() > 0 and (sieve[ok] >= mean[ok] - 1e-6).all() and (sieve[ok] <= 1 + 1e-5).all()
    status = np.array(table.column("status").to_pylist())
    assert np.isnan(sieve[status == "nan_image"]).all()  # corrupt images have no captions


def test_sieve_clipscore_recipe_fuses_with_pool_wide_minmax(cached, pool, tmp_path):
    from pairsift.cli import main
    from pairsift.io.subsets import read_subset
    from pairsift.select.tables import ScoreTables

    run = tmp_path / "run"
    args = [
        "-q",
        "run",
        "sieve-clipscore",
        "--pool",
        str(pool),
        "-o",
        str(run),
        "--var",
        f"captions={cached}",
    ]
    args += ["--set", "embeddings=tiny_world", "--set", "compute.device=cpu"]
    assert main(args) == 0
    tables = ScoreTables(run)
    clip = np.concatenate([tables.column(s, "clip_score") for s in tables.shards]).astype(np.float64)
    sieve = np.concatenate([tables.column(s, "sieve") for s in tables.shards]).astype(np.float64)

    def minmax(x):
        return (x - np.nanmin(x)) / (np.nanmax(x) - np.nanmin(x))

    fused = 0.5 * minmax(clip) + 0.5 * minmax(sieve)
    keep = int(0.2 * len(fused))
    order = np.argsort(-np.where(np.isnan(fused), -np.inf, fused), kind="stable")[:keep]
    keys = np.concatenate([tables.uid_keys(s)[0] for s in tables.shards])
    expected = {tuple(k) for k in keys[order]}
    assert {tuple(k) for k in read_subset(run / "subset.npy")} == expected
    stats = json.loads((run / "subset.npy.json").read_text())["fusions"][0]["statistics"]
    for name, values in (("clip_score", clip), ("sieve", sieve)):  # over the whole pool, not one shard
        assert stats[name] == {"min": np.nanmin(values), "max": np.nanmax(values)}
