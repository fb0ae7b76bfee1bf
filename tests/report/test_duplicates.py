"""Report galleries of duplicate groups (semdedup) and decontamination hits, with thumbnails."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.report import ReportConfig, build_report
from pairsift.report.duplicates import decontamination_galleries, duplicate_galleries, find_groups
from pairsift.report.galleries import score_galleries
from pairsift.report.gather import gather
from pairsift.report.run_info import read_run_info
from pairsift.stages.score import score
from pairsift.stages.score_config import ComputeConfig, ScoreConfig, ScorerSpec


@pytest.fixture(scope="module")
def dedup_run(tiny_run, tmp_path_factory) -> Path:
    """The tiny run's pool scored by semdedup and by decontaminate against 5 of its own images."""
    root = tmp_path_factory.mktemp("dedup-run")
    shard = sorted(tiny_run.pool.glob("*.npz"))[0]
    with np.load(shard) as npz:
        images = npz["tiny_world_img"]
    finite = np.flatnonzero(np.isfinite(images).all(axis=1) & (np.abs(images).sum(axis=1) > 0))
    np.save(root / "test.npy", images[finite[::20][:5]].astype(np.float32))
    scorers = (
        ScorerSpec("semdedup", {"eps": 0.02}),
        ScorerSpec("decontaminate", {"target": str(root / "test.npy"), "threshold": 0.999}),
    )
    run = root / "run"
    score(
        ScoreConfig(
            pool=str(tiny_run.pool),
            output=str(run),
            embeddings="tiny_world",
            scorers=scorers,
            compute=ComputeConfig(device="cpu"),
        )
    )
    return run


def rows_of(run: Path) -> pa.Table:
    tables = [pq.read_table(p) for p in sorted((run / "scores").glob("*.parquet"))]
    return pa.concat_tables(tables)


def test_groups_are_the_largest_by_removed_members_with_the_kept_row_first(dedup_run):
    table = rows_of(dedup_run).to_pylist()
    sizes = Counter(r["semdedup_duplicate_of"] for r in table if r["semdedup_duplicate_of"])
    assert sizes, "the fixture should have near-duplicates"
    expected = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    info = read_run_info(str(dedup_run))
    groups = find_groups(info, "semdedup", 3)
    assert [(g.kept, g.removed) for g in groups] == expected
    galleries = duplicate_galleries(info, 3)
    config = ReportConfig(str(dedup_run), "unused.html", cards=50)
    data = gather(info, [], galleries, None, config)
    by_uid = {r["uid"]: r for r in table}
    shard_rows = [pq.read_table(p).column("uid").to_pylist() for p in info.tables.paths.values()]
    for (kept, count), gallery in zip(expected, data.galleries, strict=True):
        uids = [shard_rows[s][r] for s, r in zip(gallery.picks.shards, gallery.picks.rows, strict=True)]
        assert uids[0] == kept and by_uid[kept]["semdedup_kept"] == 1
        members = {u for u, r in by_uid.items() if r["semdedup_duplicate_of"] == kept}
        assert set(uids[1:]) == members and len(members) == count
        similarity = [by_uid[u]["semdedup"] for u in uids[1:]]
        assert similarity == sorted(similarity, reverse=True)


def test_decontamination_hits_are_the_flagged_rows(dedup_run):
    info = read_run_info(str(dedup_run))
    [gallery] = decontamination_galleries(info)
    gather(info, [], [gallery], None, ReportConfig(str(dedup_run), "unused.html", cards=50))
    table = rows_of(dedup_run).to_pylist()
    flagged = {r["uid"] for r in table if r["decontaminate_flagged"] == 1}
    shard_rows = [pq.read_table(p).column("uid").to_pylist() for p in info.tables.paths.values()]
    shown = {shard_rows[s][r] for s, r in zip(gallery.picks.shards, gallery.picks.rows, strict=True)}
    assert shown == flagged and len(flagged) >= 5  # the 5 target rows, and any exact copies of them


def test_the_report_shows_both_sections_with_thumbnails(dedup_run, tmp_path):
    out = tmp_path / "report.html"
    summary = build_report(ReportConfig(str(dedup_run), str(out), duplicate_groups=2))
    html = out.read_text()
    assert html.count("semdedup duplicate group of ") == 2
    assert "decontaminate hits" in html and "the test image&#39;s row in the target file" in html
    assert summary.thumbnails > 0 and html.count("<img src=") >= summary.thumbnails
    info = read_run_info(str(dedup_run))
    plain = len(score_galleries(info, [])) + 1
    assert len(
        gather(info, [], duplicate_galleries(info, 2), None, ReportConfig(str(dedup_run), "x")).galleries
    )
    assert summary.cards > plain
