"""The bench's results in the report: the table in the papers' format (subset size, each task, average;
mean ± std over seeds), the share of each kind of sample each subset kept, and a plot of the average
accuracy per method with the seeds' spread (one dot per seed, the mean as a bar, ± one standard deviation
as a line), drawn as inline SVG.

``pairsift bench`` writes ``OUT/bench.json`` and ``OUT/subsets.json``; :func:`read_bench` reads them back,
:func:`bench_page` renders the bench's own page and :func:`bench_context` the section of a run report
(``pairsift report`` of a folder that holds ``bench.json``).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pairsift.errors import InputError
from pairsift.io.location import output_path
from pairsift.report.charts import Frame, colour
from pairsift.report.svg import el, join, number

BENCH_FILE = "bench.json"
SUBSETS_FILE = "subsets.json"


@dataclass(frozen=True)
class MethodScore:
    method: str
    subset_size: int
    averages: list[float]  #: one per seed, in [0, 1]


@dataclass
class BenchData:
    """What a bench folder holds: ``bench.json``'s results and ``subsets.json``'s record (optional)."""

    results: list[dict[str, Any]] = field(default_factory=list)
    subsets: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def read_bench(folder: str | Path) -> BenchData | None:
    """The bench results in ``folder`` (a path or URL; None when it holds no ``bench.json``)."""
    root = output_path(folder)
    path = root / BENCH_FILE
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text())["results"]
        if not isinstance(results, list) or not all(_is_entry(r) for r in results):
            raise ValueError("'results' is not a list of {method, subset_size, seed, tasks, average}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a bench result file ({exc})") from None
    record: dict[str, Any] = {}
    extra = root / SUBSETS_FILE
    if extra.is_file():
        try:
            record = json.loads(extra.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{extra}: not JSON ({exc})") from None
    return BenchData(
        results,
        subsets=record.get("subsets") or {},
        skipped=record.get("skipped") or {},
        seconds=float(record.get("seconds") or 0.0),
    )


def _is_entry(entry: Any) -> bool:
    keys = {"method", "subset_size", "seed", "tasks", "average"}
    return isinstance(entry, dict) and keys <= set(entry) and isinstance(entry["tasks"], dict)


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method, in order of first appearance: subset size, mean and std over seeds of each task and of
    the average, and the seeds."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in results:
        groups[entry["method"]].append(entry)
    rows = []
    for method, entries in groups.items():
        tasks = list(entries[0]["tasks"])
        cells = {t: _stats([e["tasks"][t] for e in entries]) for t in tasks}
        rows.append(
            {
                "method": method,
                "subset_size": entries[0]["subset_size"],
                "seeds": [e["seed"] for e in entries],
                "tasks": cells,
                "average": _stats([e["average"] for e in entries]),
            }
        )
    return rows


def _stats(values: list[float]) -> tuple[float, float]:
    return float(statistics.fmean(values)), float(statistics.stdev(values)) if len(values) > 1 else 0.0


def format_table(results: list[dict[str, Any]]) -> str:
    """The papers' table: one row per method, accuracies in % as mean ± std over seeds."""
    rows = summarise(results)
    if not rows:
        return "(no results)"
    tasks = list(rows[0]["tasks"])
    header = f"{'method':<28}{'size':>7}" + "".join(f"{t:>14}" for t in tasks) + f"{'average':>14}"
    lines = [header]
    for row in rows:
        cells = "".join(f"{_cell(row['tasks'][t]):>14}" for t in tasks)
        lines.append(f"{row['method']:<28}{row['subset_size']:>7}{cells}{_cell(row['average']):>14}")
    seeds = len(rows[0]["seeds"])
    lines.append(
        f"accuracy in % (retrieval: mean of image and text recall@1), mean ± std over {seeds} seed(s)"
    )
    return "\n".join(lines)


def _cell(stats: tuple[float, float]) -> str:
    mean, std = stats
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def format_kinds(subsets: dict[str, dict[str, Any]]) -> str:
    """Share of each kind of sample each subset keeps."""
    if not subsets:
        return ""
    kinds = list(next(iter(subsets.values()))["kept"])
    lines = [f"{'kept (share of each kind)':<28}" + "".join(f"{k[:15]:>16}" for k in kinds)]
    for name, s in subsets.items():
        lines.append(f"{name:<28}" + "".join(f"{s['kept'][k]:>16.1%}" for k in kinds))
    return "\n".join(lines)


def method_scores(results: list[dict[str, Any]]) -> list[MethodScore]:
    """Each method's size and per-seed averages, in the table's order (the plot's rows)."""
    return [
        MethodScore(
            r["method"], r["subset_size"], [e["average"] for e in results if e["method"] == r["method"]]
        )
        for r in summarise(results)
    ]


def spread_chart(scores: list[MethodScore]) -> Markup:
    """Average accuracy per method (rows), one dot per seed, the mean and ± std."""
    row = 26
    frame = Frame(760, 60 + row * max(1, len(scores)), left=230, right=30, top=20, bottom=40)
    values = [v for s in scores for v in s.averages] or [0.0, 1.0]
    low, high = max(0.0, min(values) - 0.02), min(1.0, max(values) + 0.02)
    span = (high - low) or 1.0

    def x(v: float) -> float:
        return frame.x((v - low) / span)

    parts: list[Markup] = []
    for i in range(6):
        tick = low + span * i / 5
        parts.append(
            el(
                "line",
                x1=number(x(tick)),
                x2=number(x(tick)),
                y1=frame.top,
                y2=frame.height - frame.bottom,
                stroke="#e3e5e8",
            )
        )
        parts.append(
            el(
                "text",
                f"{100 * tick:.1f}",
                x=number(x(tick)),
                y=frame.height - frame.bottom + 16,
                text_anchor="middle",
                font_size=11,
            )
        )
    parts.append(
        el(
            "text",
            "average accuracy (%)",
            x=number(frame.x(0.5)),
            y=frame.height - 6,
            text_anchor="middle",
            font_size=12,
        )
    )
    for i, s in enumerate(scores):
        y = frame.top + row * i + row / 2
        mean = statistics.fmean(s.averages)
        std = statistics.stdev(s.averages) if len(s.averages) > 1 else 0.0
        fill = colour(i)
        parts.append(
            el(
                "text",
                f"{s.method} ({s.subset_size})",
                x=frame.left - 8,
                y=number(y + 4),
                text_anchor="end",
                font_size=12,
            )
        )
        parts.append(
            el(
                "line",
                x1=number(x(mean - std)),
                x2=number(x(mean + std)),
                y1=number(y),
                y2=number(y),
                stroke=fill,
                stroke_width=2,
            )
        )
        parts.append(
            el(
                "line",
                x1=number(x(mean)),
                x2=number(x(mean)),
                y1=number(y - 8),
                y2=number(y + 8),
                stroke=fill,
                stroke_width=3,
            )
        )
        for v in s.averages:
            parts.append(el("circle", cx=number(x(v)), cy=number(y), r=3.5, fill=fill, fill_opacity=0.6))
    return el(
        "svg",
        el("title", "average accuracy per method, one dot per seed"),
        join(parts),
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {frame.width} {frame.height}",
        width=frame.width,
        height=frame.height,
        role="img",
        class_="chart",
    )


def bench_context(data: BenchData) -> dict[str, Any]:
    """The template's ``bench`` section: the table, the plot, the kinds kept and the skipped recipes."""
    return {
        "table": format_table(data.results),
        "chart": spread_chart(method_scores(data.results)),
        "kinds": format_kinds(data.subsets),
        "skipped": sorted(data.skipped.items()),
        "seconds": data.seconds,
    }


def bench_page(data: BenchData) -> str:
    """A self-contained HTML page: the table, the plot, what each subset keeps, the skipped recipes."""
    section = bench_context(data)
    skipped_items = Markup("").join(
        Markup("<li><code>{}</code>: {}</li>").format(name, reason) for name, reason in section["skipped"]
    )
    body = Markup(
        "<h1>pairsift bench: a miniature DataComp on the tiny world</h1>"
        "<h2>Zero-shot results</h2><pre>{}</pre>"
        "<h2>Average accuracy per method (dots: seeds; bar: mean; line: ± std)</h2>{}"
        "<h2>Share of each kind of sample each subset keeps (world labels)</h2><pre>{}</pre>"
        "<h2>Recipes not in the grid</h2><ul>{}</ul>"
    ).format(section["table"], section["chart"], section["kinds"], skipped_items or Markup("<li>none</li>"))
    return str(
        Markup(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>pairsift bench</title>'
            "<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}"
            "pre{{background:#f6f7f9;padding:1em;overflow-x:auto}}</style></head><body>{}</body></html>"
        ).format(body)
    )
