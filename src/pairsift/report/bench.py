"""The bench's page: its table and a plot of the average accuracy per method with the seeds' spread
(one dot per seed, the mean as a bar, ± one standard deviation as a line), drawn as inline SVG."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from markupsafe import Markup

from pairsift.report.charts import Frame, colour
from pairsift.report.svg import el, join, number


@dataclass(frozen=True)
class MethodScore:
    method: str
    subset_size: int
    averages: list[float]  #: one per seed, in [0, 1]


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


def bench_page(table: str, kinds: str, scores: list[MethodScore], skipped: dict[str, str]) -> str:
    """A self-contained HTML page: the table, the plot, what each subset keeps, the skipped recipes."""
    skipped_items = Markup("").join(
        Markup("<li><code>{}</code>: {}</li>").format(name, reason) for name, reason in skipped.items()
    )
    body = Markup(
        "<h1>pairsift bench: a miniature DataComp on the tiny world</h1>"
        "<h2>Zero-shot results</h2><pre>{}</pre>"
        "<h2>Average accuracy per method (dots: seeds; bar: mean; line: ± std)</h2>{}"
        "<h2>Share of each kind of sample each subset keeps (world labels)</h2><pre>{}</pre>"
        "<h2>Recipes not in the grid</h2><ul>{}</ul>"
    ).format(table, spread_chart(scores), kinds, skipped_items or Markup("<li>none</li>"))
    return str(
        Markup(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>pairsift bench</title>'
            "<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}"
            "pre{{background:#f6f7f9;padding:1em;overflow-x:auto}}</style></head><body>{}</body></html>"
        ).format(body)
    )
