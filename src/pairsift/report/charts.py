"""Charts as inline SVG, drawn in Python: no script, no external file, readable without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from markupsafe import Markup

from pairsift.report.stats import Histogram
from pairsift.report.svg import el, join, number

#: One colour per subset, in order (colour-blind friendly, Okabe–Ito).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#8b6f47", "#000000")
MUTED = "#b8bcc4"


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class Marker:
    """A vertical line on a histogram: where a subset cut the column."""

    label: str
    value: float
    colour: str


@dataclass(frozen=True)
class Frame:
    """A plot area inside an SVG of ``width`` x ``height``, with margins."""

    width: int
    height: int
    left: int = 52
    right: int = 26
    top: int = 28
    bottom: int = 34

    @property
    def inner_width(self) -> float:
        return float(self.width - self.left - self.right)

    @property
    def inner_height(self) -> float:
        return float(self.height - self.top - self.bottom)

    def x(self, fraction: float) -> float:
        return self.left + fraction * self.inner_width

    def y(self, fraction: float) -> float:
        return self.top + (1 - fraction) * self.inner_height


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    return [low] if high <= low else list(np.linspace(low, high, count))


def _x_axis(frame: Frame, low: float, high: float) -> list[Markup]:
    base = frame.y(0)
    parts = [el("line", x1=frame.x(0), x2=frame.x(1), y1=base, y2=base, class_="axis")]
    span = high - low
    for value in _ticks(low, high):
        x = frame.x((value - low) / span if span > 0 else 0.5)
        parts.append(el("line", x1=x, x2=x, y1=base, y2=base + 4, class_="axis"))
        parts.append(el("text", f"{value:.3g}", x=x, y=base + 16, class_="tick", text_anchor="middle"))
    return parts


def _y_axis(frame: Frame, low: float, high: float, label: str | None = None) -> list[Markup]:
    parts = [el("line", x1=frame.left, x2=frame.left, y1=frame.y(0), y2=frame.y(1), class_="axis")]
    span = high - low
    for value in _ticks(low, high, 3):
        y = frame.y((value - low) / span if span > 0 else 0.5)
        parts.append(el("text", f"{value:.3g}", x=frame.left - 6, y=y + 4, class_="tick", text_anchor="end"))
    if label:
        parts.append(el("text", label, x=frame.left, y=frame.top - 10, class_="tick", text_anchor="start"))
    return parts


def _svg(frame: Frame, title: str, parts: list[Markup]) -> Markup:
    return el(
        "svg",
        el("title", title),
        join(parts),
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {frame.width} {frame.height}",
        width=frame.width,
        height=frame.height,
        role="img",
        class_="chart",
    )


def histogram(hist: Histogram, column: str, markers: list[Marker], kept: tuple[str, str] | None) -> Markup:
    """Counts of all rows (grey), of the rows a subset keeps (``kept = (name, colour)``), cut markers."""
    frame = Frame(600, 230)
    top = max(int(hist.counts.max()), 1)
    edges = hist.edges
    width = frame.inner_width / hist.bins
    parts: list[Markup] = []
    for series, fill in ((hist.counts, MUTED), (hist.kept, kept[1] if kept else None)):
        if fill is None:
            continue
        for i, count in enumerate(series.tolist()):
            if count:
                h = count / top * frame.inner_height
                tip = f"[{edges[i]:.4g}, {edges[i + 1]:.4g}): {count:,} rows"
                parts.append(
                    el(
                        "rect",
                        el("title", tip),
                        x=frame.x(0) + i * width,
                        y=frame.y(0) - h,
                        width=max(width - 0.5, 0.5),
                        height=h,
                        fill=fill,
                    )
                )
    parts += _x_axis(frame, hist.low, hist.high) + _y_axis(frame, 0, top, "rows")
    parts += _markers(frame, hist, markers)
    return _svg(frame, f"histogram of {column}", parts)


def _markers(frame: Frame, hist: Histogram, markers: list[Marker]) -> list[Markup]:
    parts: list[Markup] = []
    span = hist.high - hist.low
    for i, m in enumerate(markers):
        fraction = (m.value - hist.low) / span if span > 0 else 0.5
        x = frame.x(min(max(fraction, 0.0), 1.0))
        label = f"{m.label} {m.value:.4g}"
        parts.append(
            el(
                "line",
                el("title", label),
                x1=x,
                x2=x,
                y1=frame.y(0),
                y2=frame.y(1) - 6,
                stroke=m.colour,
                class_="cut",
            )
        )
        anchor = "end" if fraction > 0.6 else "start"
        dx = -4 if anchor == "end" else 4
        parts.append(
            el(
                "text",
                label,
                x=x + dx,
                y=frame.top + 4 + 13 * i,
                fill=m.colour,
                class_="cutlabel",
                text_anchor=anchor,
            )
        )
    return parts


def funnel(steps: list[tuple[str, int, int]], pool: int, fill: str) -> Markup:
    """One bar per step (rule, kept, base): its length is kept / pool rows."""
    row = 26
    frame = Frame(600, 12 + row * len(steps), left=250, right=120, top=6, bottom=6)
    parts: list[Markup] = []
    for i, (rule, kept, base) in enumerate(steps):
        y = frame.top + i * row
        w = frame.inner_width * (kept / pool if pool else 0.0)
        share = f"{kept:,} ({kept / base:.1%} of {base:,})" if base else f"{kept:,}"
        parts.append(el("text", rule, x=frame.left - 8, y=y + 16, class_="tick", text_anchor="end"))
        parts.append(
            el(
                "rect",
                el("title", f"{rule}: {share}"),
                x=frame.left,
                y=y + 3,
                width=max(w, 0.5),
                height=row - 8,
                fill=fill,
            )
        )
        parts.append(el("text", share, x=frame.left + w + 6, y=y + 16, class_="tick"))
    return _svg(frame, "selection funnel", parts)


def scatter(
    x: np.ndarray, y: np.ndarray, names: tuple[str, str], kept: np.ndarray | None, fill: str
) -> Markup:
    """Sampled rows: dropped ones grey, kept ones (``kept`` mask) coloured on top."""
    frame = Frame(460, 440, left=56, bottom=44)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok].astype(np.float64), y[ok].astype(np.float64)
    mask = kept[ok] if kept is not None else np.zeros(len(x), dtype=bool)
    if not len(x):
        return _svg(frame, "scatter (no rows with both scores)", [])
    xl, xh, yl, yh = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    px = frame.x(0) + (x - xl) / ((xh - xl) or 1.0) * frame.inner_width
    py = frame.y(0) - (y - yl) / ((yh - yl) or 1.0) * frame.inner_height
    parts = _x_axis(frame, xl, xh) + _y_axis(frame, yl, yh, names[1])
    parts.append(el("text", names[0], x=frame.x(1), y=frame.height - 6, class_="tick", text_anchor="end"))
    for selected, colour_ in ((False, MUTED), (True, fill)):
        rows = np.flatnonzero(mask == selected)
        dots = "".join(f"M{number(px[r])} {number(py[r])}h0" for r in rows)
        if dots:
            parts.append(el("path", d=dots, stroke=colour_, class_="dots"))
    return _svg(frame, f"{names[1]} against {names[0]}", parts)
