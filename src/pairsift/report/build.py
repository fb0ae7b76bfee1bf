"""``build_report``: gather, fetch the gallery cards, render, write one self-contained HTML file."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pairsift.engines import Engine
from pairsift.errors import InputError
from pairsift.io.fs import atomic_write
from pairsift.io.location import output_path
from pairsift.io.sources import POOL_MANIFEST
from pairsift.report.bench import BENCH_FILE, BenchData, bench_context, bench_page, read_bench
from pairsift.report.cards import build_cards
from pairsift.report.config import ReportConfig
from pairsift.report.duplicates import decontamination_galleries, duplicate_galleries
from pairsift.report.galleries import score_galleries, status_gallery, subset_galleries
from pairsift.report.gather import ReportData, gather
from pairsift.report.labels import LabelIndex
from pairsift.report.page import context, render
from pairsift.report.run_info import RunInfo, read_run_info
from pairsift.report.selections import discover_subsets, load_selections
from pairsift.report.thumbnails import ImageShards

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.parquet"


@dataclass
class ReportSummary:
    output: str
    bytes: int
    seconds: float
    rows: int
    subsets: list[str] = field(default_factory=list)
    images: str | None = None
    labels: str | None = None
    cards: int = 0
    thumbnails: int = 0
    bench: int = 0  #: bench.json entries shown (the bench's section or page)


def build_report(config: ReportConfig, engine: Engine | None = None) -> ReportSummary:
    """Write the report of ``config.run_dir`` to ``config.output`` (atomically) and say what it holds.

    ``engine`` runs the passes over the score tables (stage ``report``; default: this process); it
    never changes a byte of the report. A folder with a ``bench.json`` (``pairsift bench``'s output)
    gets the bench's section: the table and the plot; when it holds no score tables, the page is the
    bench's alone."""
    start = time.perf_counter()
    bench = read_bench(config.run_dir)
    if bench is not None and not (output_path(config.run_dir) / "scores").is_dir():
        return _bench_report(config, bench, start)
    info = read_run_info(config.run_dir)
    axes = info.scatter_axes(config.scatter)  # check --scatter before the long passes
    subsets = list(config.subsets) if config.subsets is not None else discover_subsets(config.run_dir)
    selections = load_selections(list(subsets))
    images_url = find_images(info, config.images)
    labels_url = find_labels(images_url, config.labels)
    labels = LabelIndex.read(labels_url, config.label_column) if labels_url else None
    galleries = score_galleries(info, selections) + subset_galleries(selections, config.pair_subsets)
    galleries += duplicate_galleries(info, config.duplicate_groups) + decontamination_galleries(info)
    galleries.append(status_gallery())
    data = gather(info, selections, galleries, labels, config, engine)
    images = ImageShards(images_url, config.thumbnail) if images_url else None
    cards = build_cards(data, images)
    notes = _notes(data, config, images_url, labels_url, axes)
    page = context(data, cards, config, notes)
    page["bench"] = bench_context(bench) if bench is not None else None
    html = render(page).encode("utf-8")
    atomic_write(output_path(config.output), lambda fh: fh.write(html))
    summary = ReportSummary(
        output=str(config.output),
        bytes=len(html),
        seconds=time.perf_counter() - start,
        rows=data.rows,
        subsets=[s.name for s in selections],
        images=images_url,
        labels=labels_url,
        cards=len(cards),
        thumbnails=sum(1 for c in cards.values() if c.image is not None and c.image.uri),
        bench=len(bench.results) if bench is not None else 0,
    )
    logger.info("report %s: %.2f MB in %.1fs", summary.output, summary.bytes / 1e6, summary.seconds)
    return summary


def _bench_report(config: ReportConfig, bench: BenchData, start: float) -> ReportSummary:
    html = bench_page(bench).encode("utf-8")
    atomic_write(output_path(config.output), lambda fh: fh.write(html))
    seconds = time.perf_counter() - start
    logger.info("report %s: the bench of %s (%s)", config.output, config.run_dir, BENCH_FILE)
    return ReportSummary(str(config.output), len(html), seconds, rows=0, bench=len(bench.results))


def find_images(info: RunInfo, given: str | None) -> str | None:
    """``given`` ("" = none), else the raw input recorded in the pool's ``embed.json`` if it exists."""
    if given is not None:
        return given or None
    if not info.pool:
        return None
    manifest = Path(info.pool) / POOL_MANIFEST
    if not manifest.is_file():
        return None
    try:
        raw = json.loads(manifest.read_text()).get("config", {}).get("input")
    except (OSError, ValueError) as exc:
        raise InputError(f"{manifest}: cannot read: {exc}") from exc
    if isinstance(raw, str) and raw and ("://" in raw or Path(raw).exists()):
        return raw
    logger.warning("%s names the raw input %r, which is not there: text-only cards", manifest, raw)
    return None


def find_labels(images: str | None, given: str | None) -> str | None:
    """``given`` ("" = none), else ``labels.parquet`` beside the raw input (a tiny world's layout)."""
    if given is not None:
        return given or None
    if images is None or "://" in images:
        return None
    raw = Path(images)
    for candidate in (raw.parent / LABELS_FILE, raw / LABELS_FILE):
        if candidate.is_file():
            return str(candidate)
    return None


def _sample_size(sample: int, rows: int) -> str:
    return f"all {rows:,} rows" if sample >= rows else f"a uniform sample of {sample:,} rows"


def _notes(
    data: ReportData,
    config: ReportConfig,
    images: str | None,
    labels: str | None,
    axes: tuple[str, str] | None,
) -> list[str]:
    shown = min(config.scatter_points, len(data.sample))
    notes = [
        f"Exact over all {data.rows:,} rows: statuses, min/mean/std/max, histograms ({config.bins} bins "
        "between each column's min and max), Pearson correlations, subset overlap, label shares, and the "
        "best/worst/borderline galleries (a streaming top-k).",
        f"Sampled: Spearman correlations over {_sample_size(len(data.sample), data.rows)}; the scatter "
        f'plot draws {shown:,} of them (seed {config.seed}). "Kept by A, dropped by B" and "not scored" '
        f"galleries show a uniform sample of {config.cards} such rows.",
        f"Thumbnails from {images}." if images else "No image source: cards show caption and URL as text.",
    ]
    if labels:
        notes.append(f"Ground-truth labels ({config.label_column}) from {labels}.")
    if axes is None:
        notes.append("The run has fewer than two score columns: no scatter plot.")
    notes.append(
        "All text from the data (captions, URLs, uids, file names) is escaped and shown as text; "
        "the page runs no script and fetches nothing."
    )
    return notes
