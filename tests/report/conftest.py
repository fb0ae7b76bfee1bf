"""Runs to report on: a small labelled tiny-world run (one per session) and a hand-made hostile one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.io.score_tables import score_table, write_score_table
from pairsift.select.selection import SelectConfig, select
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec
from tests.pools import hex_uids

TEACHER = "pairsift:tiny-world"
SELECTIONS = {
    "clip30": (("top", "clip_score=0.3"),),
    "negclip30": (("top", "neg_clip_loss=0.3"),),
    "negclip30-clip20": (("top", "neg_clip_loss=0.3"), ("top", "clip_score=0.2")),
}


@dataclass(frozen=True)
class TinyRun:
    world: Path
    pool: Path
    run: Path
    subsets: dict[str, Path]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """240 tiny-world samples (2 shards) embedded by the bundled teacher, scored, selected 3 ways."""
    from pairsift.stages.embed import EmbedConfig, embed
    from pairsift.stages.score import score
    from pairsift.world import WorldConfig, generate

    root = tmp_path_factory.mktemp("tiny-run")
    world, pool, run = root / "world", root / "pool", root / "run"
    generate(world, WorldConfig(samples=240, shard_size=120, seed=5, task_samples=0, tasks=()))
    embed(EmbedConfig(str(world / "pool"), str(pool), TEACHER, device="cpu", num_workers=0))
    scorers = (ScorerSpec("clip_score"), ScorerSpec("neg_clip_loss"))
    cpu = ComputeConfig(device="cpu")
    score(ScoreConfig(pool=str(pool), output=str(run), embeddings="tiny_world", scorers=scorers, compute=cpu))
    subsets = {}
    for name, rules in SELECTIONS.items():
        subsets[name] = run / "subsets" / f"{name}.npy"
        select(run, SelectConfig(rules=rules, output=str(subsets[name])))
    return TinyRun(world, pool, run, subsets)


#: Text a web crawl could hold; each must reach the page as text, never as markup.
HOSTILE_CAPTION = "<script>alert(1)</script> \"double\" 'single' &amp; &lt;b&gt; <img src=x onerror=alert(2)>"
HOSTILE_URL = "javascript:alert(3)"
SAFE_URL = 'https://example.com/a?b=1&c="2"<x>'
HOSTILE_TEXT = "</td></tr><script>alert(4)</script>"
HOSTILE_STATUS = "weird<b>status</b>&"
HOSTILE_COLUMN = 's"<i>core</i>'
HOSTILE_SUBSET = 'sel"<u>x&amp;'  # a file name: no slash


@pytest.fixture
def hostile_run(tmp_path: Path) -> tuple[Path, Path]:
    """A run written by hand whose captions, URLs, statuses, column and file names are hostile.

    The score table carries a float column with a hostile name and a string column (as SIEVE writes
    ``sieve_caption``). Returns ``(run_dir, subset_file)``.
    """
    n = 30
    uids = hex_uids(n, seed=11)
    pool, run = tmp_path / "pool", tmp_path / "run"
    pool.mkdir()
    captions = [HOSTILE_CAPTION if i % 3 == 0 else f"caption {i} & co" for i in range(n)]
    urls = [HOSTILE_URL if i % 2 else SAFE_URL for i in range(n)]
    pq.write_table(pa.table({"uid": uids, "text": captions, "url": urls}), pool / "00000000.parquet")
    rng = np.random.default_rng(0)
    status = np.array(["ok"] * (n - 2) + [HOSTILE_STATUS] * 2, dtype=object)
    values = {HOSTILE_COLUMN: rng.random(n).astype(np.float32), "other": rng.random(n).astype(np.float32)}
    values[HOSTILE_COLUMN][-2:] = np.nan
    table = score_table(np.array(uids, dtype=object), status, values)
    table = table.append_column("sieve_caption", pa.array([HOSTILE_TEXT] * n, pa.string()))
    write_score_table(run / "scores" / "00000000.parquet", table)
    scorer = {"column": HOSTILE_COLUMN, "kind": "x<y>", "higher_is_better": True, "params": {"p": "<q>"}}
    (run / "run.json").write_text(json.dumps({"config": {"pool": str(pool)}, "scorers": [scorer]}))
    subset = tmp_path / f"{HOSTILE_SUBSET}.npy"
    select(run, SelectConfig(rules=(("top", f"{HOSTILE_COLUMN}=0.5"),), output=str(subset)))
    return run, subset
