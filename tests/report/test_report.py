"""The report: exact figures over all rows, bounded samples, escaped text, the command."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairsift.cli import main
from pairsift.io.score_tables import score_table, write_score_table
from pairsift.io.subsets import SubsetIndex, read_subset
from pairsift.report import ReportConfig, build_report
from pairsift.report.build import find_images, find_labels
from pairsift.report.galleries import score_galleries, status_gallery, subset_galleries
from pairsift.report.gather import gather
from pairsift.report.labels import LabelIndex
from pairsift.report.run_info import read_run_info
from pairsift.report.sampling import KBest
from pairsift.report.selections import Membership, load_selections
from pairsift.uids import from_keys, parse_uids
from tests.pools import hex_uids
from tests.report.conftest import (
    HOSTILE_CAPTION,
    HOSTILE_COLUMN,
    HOSTILE_STATUS,
    HOSTILE_SUBSET,
    HOSTILE_TEXT,
    HOSTILE_URL,
    SAFE_URL,
)


def all_rows(run: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((run / "scores").glob("*.parquet")))


@pytest.fixture(scope="module")
def gathered(tiny_run):
    info = read_run_info(str(tiny_run.run))
    selections = load_selections(list(tiny_run.subsets.values()))
    galleries = score_galleries(info, selections) + subset_galleries(selections, 3) + [status_gallery()]
    labels = LabelIndex.read(tiny_run.world / "labels.parquet")
    config = ReportConfig(str(tiny_run.run), "unused.html", cards=8)
    return gather(info, selections, galleries, labels, config)


def test_statistics_histograms_and_correlations_are_exact(tiny_run, gathered):
    table = all_rows(tiny_run.run)
    assert gathered.rows == table.num_rows == 240
    statuses = table.column("status").to_pylist()
    assert gathered.statuses == {s: statuses.count(s) for s in set(statuses)}
    finite = {}
    for c in ("clip_score", "neg_clip_loss"):
        v = table.column(c).to_numpy(zero_copy_only=False)
        finite[c] = np.isfinite(v)
        m, h = gathered.moments[c], gathered.histograms[c]
        assert m.finite == finite[c].sum() and m.nonfinite == 240 - finite[c].sum() > 0  # corrupt images
        assert (m.low, m.high) == (v[finite[c]].min(), v[finite[c]].max())
        assert m.mean == pytest.approx(v[finite[c]].astype(np.float64).mean(), rel=1e-9)
        expected, _ = np.histogram(v[finite[c]].astype(np.float64), bins=h.edges)
        np.testing.assert_array_equal(h.counts, expected)
    x, y = (table.column(c).to_numpy(zero_copy_only=False) for c in ("clip_score", "neg_clip_loss"))
    both = finite["clip_score"] & finite["neg_clip_loss"]
    assert gathered.pearson[0, 1] == pytest.approx(np.corrcoef(x[both], y[both])[0, 1], abs=1e-9)


def test_overlap_label_shares_and_histogram_overlay_are_exact(tiny_run, gathered):
    table = all_rows(tiny_run.run)
    keys, _ = parse_uids(table.column("uid"))
    member = {n: SubsetIndex(read_subset(p)).contains_keys(keys) for n, p in tiny_run.subsets.items()}
    a, b, c = member.values()
    pattern = a.astype(int) | b.astype(int) << 1 | c.astype(int) << 2
    np.testing.assert_array_equal(gathered.overlap.counts, np.bincount(pattern, minlength=8))
    labels = pq.read_table(tiny_run.world / "labels.parquet", columns=["uid", "kind"]).to_pydict()
    kind_of = dict(zip(labels["uid"], labels["kind"], strict=True))
    kinds = np.array([kind_of[u] for u in table.column("uid").to_pylist()])
    names = gathered.labels.names
    for i, kept in enumerate(member.values()):
        expected = [kept[kinds == k].mean() for k in names]
        np.testing.assert_allclose(gathered.label_counts.shares()[i], expected)
    assert gathered.label_counts.shares()[0][names.index("corrupt")] == 0.0  # NaN scores are never kept
    # clip_score's histogram overlays the first subset that cut clip_score: clip30
    assert gathered.overlay["clip_score"] == 0 and gathered.histograms["clip_score"].kept.sum() == a.sum()


def test_galleries_are_exact_top_k_and_respect_their_masks(tiny_run, gathered):
    table = all_rows(tiny_run.run)
    rows = {s: pq.read_metadata(p).num_rows for s, p in gathered.info.tables.paths.items()}
    offsets = dict(zip(rows, np.cumsum([0, *rows.values()])[:-1], strict=False))
    by_title = {g.title: g for g in gathered.galleries}
    v = table.column("clip_score").to_numpy(zero_copy_only=False)
    order = np.argsort(-np.where(np.isfinite(v), v, -np.inf), kind="stable")[:8]

    def positions(title: str) -> list[int]:
        picks = by_title[title].picks
        names = gathered.info.shards
        return [offsets[names[s]] + r for s, r in zip(picks.shards, picks.rows, strict=True)]

    assert positions("best by clip_score") == order.tolist()
    cut = gathered.selections[0].thresholds["clip_score"][0].value
    near = np.sort(np.abs(v[np.isfinite(v)] - cut))[:8]
    np.testing.assert_allclose(np.sort(np.abs(v[positions("borderline of clip_score")] - cut)), near)
    status = np.array(table.column("status").to_pylist())
    assert all(status[p] != "ok" for p in positions("not scored"))
    kept_not = positions("kept by clip30, dropped by negclip30")
    keys, _ = parse_uids(table.column("uid"))
    clip30, negclip30 = (
        SubsetIndex(read_subset(s.path)).contains_keys(keys) for s in gathered.selections[:2]
    )
    assert kept_not and all(clip30[p] and not negclip30[p] for p in kept_not)


def test_kbest_is_the_exact_top_k_across_shards_with_ties_by_position():
    rng = np.random.default_rng(3)
    shards = [rng.integers(0, 20, size=n).astype(np.float64) for n in (50, 0, 31, 77)]
    shards[2][[3, 5]] = np.nan
    best = KBest(12)
    for i, keys in enumerate(shards):
        best.add(i, keys, {"double": 2 * keys})
    flat = [(-k, i, r) for i, keys in enumerate(shards) for r, k in enumerate(keys) if np.isfinite(k)]
    expected = sorted(flat)[:12]
    assert list(zip(-best.keys, best.shards, best.rows, strict=True)) == expected
    np.testing.assert_array_equal(best.payload["double"], 2 * best.keys)


def test_membership_matches_the_subset_index_also_for_shared_high_words():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 40, size=(3000, 2)).astype(np.uint64)  # many uids share their high 64 bits
    subset = from_keys(keys[:1000])
    subset = subset[np.lexsort((subset["f1"], subset["f0"]))]
    expected = SubsetIndex(subset).contains_keys(keys)
    assert 0 < expected.sum() < len(keys)
    np.testing.assert_array_equal(Membership(subset).contains_keys(keys), expected)


def test_tiny_world_report_finds_images_and_labels_and_is_deterministic(tiny_run, tmp_path):
    first = build_report(ReportConfig(str(tiny_run.run), str(tmp_path / "a.html")))
    build_report(ReportConfig(str(tiny_run.run), str(tmp_path / "b.html")))
    assert first.images == str(tiny_run.world / "pool")
    assert first.labels == str(tiny_run.world / "labels.parquet")
    assert first.subsets == ["clip30", "negclip30-clip20", "negclip30"]  # RUN_DIR/subsets/*.npy, sorted
    html = (tmp_path / "a.html").read_text()
    assert html == (tmp_path / "b.html").read_text()
    assert first.thumbnails > 0 and html.count('<img src="data:image/jpeg;base64,') >= first.thumbnails
    assert "image could not be decoded" in html  # the world's corrupt images, in the "not scored" gallery
    for text in (
        "top neg_clip_loss=0.3 → top clip_score=0.2",
        "wrong_attribute",
        "kept by clip30, dropped by",
    ):
        assert text in html
    # self-contained: every src is a data: URI, no stylesheet, script or CSS url() to fetch
    assert html.count("src=") == html.count('src="data:image/jpeg;base64,')
    assert not re.search(r"<link|<script|@import|url\(", html)


def test_text_only_cards_when_images_are_turned_off(tiny_run, tmp_path):
    summary = build_report(ReportConfig(str(tiny_run.run), str(tmp_path / "r.html"), images="", labels=""))
    html = (tmp_path / "r.html").read_text()
    assert summary.images is None and summary.labels is None and summary.thumbnails == 0
    assert "<img" not in html and 'id="labels"' not in html
    assert 'class="caption"' in html


class Texts(HTMLParser):
    """Text content of every element with a given class, as the browser would show it."""

    def __init__(self, cls: str) -> None:
        super().__init__()
        self.cls, self.depth, self.found, self.elements = cls, 0, [], []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.elements.append(tag)
        if self.depth:
            self.depth += 1
        elif self.cls in (dict(attrs).get("class") or "").split():
            self.depth = 1
            self.found.append("")

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.found[-1] += data


def test_untrusted_text_is_shown_as_text(hostile_run, tmp_path):
    run, subset = hostile_run
    out = tmp_path / "r.html"
    build_report(ReportConfig(str(run), str(out), subsets=(str(subset),)))
    html = out.read_text()
    assert "<script" not in html and "<img src=x" not in html and "<i>core</i>" not in html
    assert "<u>" not in html and "<b>status</b>" not in html and "<q>" not in html
    assert 'href="javascript:' not in html  # only http(s) URLs become links
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&amp;amp;" in html
    captions = Texts("caption")
    captions.feed(html)
    assert HOSTILE_CAPTION in captions.found  # the exact text, quotes and entities included
    assert "script" not in captions.elements and "i" not in captions.elements
    whole = Texts("card")
    whole.feed(html)
    card_text = "\n".join(whole.found)
    for text in (HOSTILE_TEXT, HOSTILE_STATUS, HOSTILE_URL, SAFE_URL, HOSTILE_COLUMN, HOSTILE_SUBSET):
        assert text in card_text, text


def test_float_columns_are_scores_and_string_columns_card_texts(hostile_run):
    info = read_run_info(str(hostile_run[0]))
    assert info.scores == [HOSTILE_COLUMN, "other"] and info.texts == ["sieve_caption"]


def synthetic_run(directory: Path, shards: int, rows: int) -> Path:
    """Score tables written directly: two float columns, no pool (text-only cards)."""
    rng = np.random.default_rng(shards)
    for s in range(shards):
        uids = np.array(hex_uids(rows, seed=1000 + s), dtype=object)
        status = np.array(["ok"] * rows, dtype=object)
        a = rng.standard_normal(rows).astype(np.float32)
        values = {"a": a, "b": (a + rng.standard_normal(rows)).astype(np.float32)}
        write_score_table(directory / "scores" / f"{s:05d}.parquet", score_table(uids, status, values))
    return directory


def test_file_size_does_not_grow_with_rows(tmp_path):
    sizes = []
    for shards in (2, 20):
        run = synthetic_run(tmp_path / f"run{shards}", shards, 1000)
        sizes.append(
            build_report(ReportConfig(str(run), str(tmp_path / f"r{shards}.html"), sample=500)).bytes
        )
    assert sizes[1] < 1.25 * sizes[0]


def test_discovery_falls_back_to_text_cards(tmp_path, tiny_run):
    info = read_run_info(str(tiny_run.run))
    assert find_images(info, None) == str(tiny_run.world / "pool")
    assert find_images(info, "") is None and find_labels(None, None) is None
    assert find_labels(str(tiny_run.world / "pool"), None) == str(tiny_run.world / "labels.parquet")
    bare = synthetic_run(tmp_path / "bare", 1, 10)
    assert find_images(read_run_info(str(bare)), None) is None


def test_command_writes_the_report_and_names_bad_options(tiny_run, tmp_path, capsys, caplog):
    out = tmp_path / "r.html"
    subset = str(tiny_run.subsets["negclip30"])
    args = [
        "report",
        str(tiny_run.run),
        "-o",
        str(out),
        "--subset",
        subset,
        "--scatter",
        "neg_clip_loss,clip_score",
    ]
    assert main(["-q", *args]) == 0
    assert f"wrote {out}" in capsys.readouterr().out and out.is_file()
    assert main(["-q", "report", str(tiny_run.run), "-o", str(out), "--scatter", "clip_score,nope"]) == 2
    assert "no score column 'nope'; available: clip_score, neg_clip_loss" in caplog.text
    assert main(["-q", "report", str(tmp_path), "-o", str(out)]) == 2
    assert "not a run directory" in caplog.text


def test_a_subset_without_record_is_shown_by_membership(tiny_run, tmp_path):
    bare = tmp_path / "dfn.npy"
    bare.write_bytes(tiny_run.subsets["clip30"].read_bytes())
    record = json.loads(Path(str(tiny_run.subsets["clip30"]) + ".json").read_text())
    selections = load_selections([bare, tiny_run.subsets["clip30"]])
    assert selections[0].funnel == [] and selections[0].thresholds == {}
    assert [s.kept for s in selections[1].funnel] == [f["kept"] for f in record["funnel"]]
    assert selections[1].thresholds["clip_score"][0].value == record["funnel"][1]["threshold"]
