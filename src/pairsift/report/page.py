"""From gathered data to the page: the template's context, then the HTML text."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

import pairsift
from pairsift.io.location import RemotePath
from pairsift.report import charts
from pairsift.report.cards import Card, Cards
from pairsift.report.config import ReportConfig
from pairsift.report.gather import ReportData
from pairsift.report.selections import Selection
from pairsift.report.template import PAGE

LINK_SCHEMES = ("http://", "https://")


def render(context: dict[str, Any]) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    return env.from_string(PAGE).render(**context)


def context(data: ReportData, cards: Cards, config: ReportConfig, notes: list[str]) -> dict[str, Any]:
    info = data.info
    return {
        "version": pairsift.__version__,
        "title": f"pairsift report: {_short(info.tables.run.path)}",
        "run": {
            "dir": str(info.tables.run.path),
            "pool": info.pool,
            "rows": data.rows,
            "shards": len(info.shards),
            "statuses": [
                {"name": k, "count": v, "share": v / data.rows if data.rows else 0.0}
                for k, v in sorted(data.statuses.items(), key=lambda kv: -kv[1])
            ],
        },
        "scorers": _scorers(data),
        "texts": info.texts,
        "scores": [_score(data, c) for c in info.scores],
        "selections": [_selection(data, i, s) for i, s in enumerate(data.selections)],
        "correlation": _correlation(data),
        "scatter": _scatter(data, config),
        "overlap": _overlap(data) if data.selections else None,
        "labels": _labels(data, config),
        "galleries": [
            {
                "title": g.title,
                "note": g.note,
                "cards": [_card(data, cards[(s, r)]) for s, r in _picks(g.picks)],
            }
            for g in data.galleries
        ],
        "notes": notes,
    }


def _short(path: Path | RemotePath) -> str:
    """The last two parts of a path (``demo-out/run``): enough to tell runs apart in a title."""
    return "/".join(path.resolve().parts[-2:])


def _picks(picks: Any) -> list[tuple[int, int]]:
    return list(zip(picks.shards.tolist(), picks.rows.tolist(), strict=True))


def _scorers(data: ReportData) -> list[dict[str, str]]:
    recorded = {s.get("column"): s for s in data.info.manifest.get("scorers", [])}
    extra = {c: s for s in recorded.values() for c in s.get("columns", [])[1:]}  # e.g. sieve_mean
    out = []
    for column in data.info.scores:
        s = recorded.get(column) or extra.get(column, {})
        params = (
            {} if column in extra else {k: v for k, v in (s.get("params") or {}).items() if v is not None}
        )
        out.append(
            {
                "column": column,
                "kind": str(s.get("kind", "?")),
                "better": "higher" if data.info.higher_is_better(column) else "lower",
                "params": json.dumps(params, sort_keys=True) if params else "",
            }
        )
    return out


def _fmt(value: float, spec: str = ".4g") -> str:
    return format(value, spec) if math.isfinite(value) else "–"


def _score(data: ReportData, column: str) -> dict[str, Any]:
    m = data.moments[column]
    markers = [
        charts.Marker(s.name, t.value, charts.colour(i))
        for i, s in enumerate(data.selections)
        for t in s.thresholds.get(column, [])
    ]
    overlay = data.overlay.get(column)
    kept = None
    if overlay is not None:
        kept = {"name": data.selections[overlay].name, "colour": charts.colour(overlay)}
    hist = data.histograms.get(column)
    chart = (
        charts.histogram(hist, column, markers, (kept["name"], kept["colour"]) if kept else None)
        if hist
        else None
    )
    total = m.finite + m.nonfinite
    stats = [
        ("finite values", f"{m.finite:,}"),
        ("NaN (not scored)", f"{m.nonfinite:,} ({m.nonfinite / total:.2%})" if total else "0"),
        ("min", _fmt(m.low)),
        ("mean", _fmt(m.mean)),
        ("std", _fmt(m.std)),
        ("max", _fmt(m.high)),
    ]
    better = "higher" if data.info.higher_is_better(column) else "lower"
    return {
        "name": column,
        "better": better,
        "chart": chart,
        "kept": kept,
        "markers": markers,
        "stats": stats,
    }


def _selection(data: ReportData, index: int, s: Selection) -> dict[str, Any]:
    in_pool = data.overlap.kept(index)
    funnel = None
    if s.funnel:
        pool = s.funnel[0].kept
        funnel = charts.funnel([(f.rule, f.kept, f.base) for f in s.funnel], pool, charts.colour(index))
    warning = None
    run_dir = str(data.info.tables.run.path)
    if s.record_run is not None and _same_path(s.record_run, run_dir) is False:
        warning = f"the record says this selection was made from {s.record_run}, not from this run"
    return {
        "name": s.name,
        "path": str(s.path),
        "colour": charts.colour(index),
        "description": s.description,
        "rows": s.rows,
        "in_pool": in_pool,
        "share": in_pool / data.rows if data.rows else 0.0,
        "funnel": funnel,
        "warning": warning,
    }


def _same_path(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b


def _heat(value: float) -> str:
    """Background for a correlation: blue for positive, red for negative, white at 0."""
    if not math.isfinite(value):
        return "#ffffff"
    strength = round(255 - 120 * min(abs(value), 1.0))
    return f"rgb({strength},{strength},255)" if value >= 0 else f"rgb(255,{strength},{strength})"


def _matrix(names: list[str], values: np.ndarray) -> list[tuple[str, list[tuple[str, str]]]]:
    return [(n, [(_fmt(float(v), ".3f"), _heat(float(v))) for v in values[i]]) for i, n in enumerate(names)]


def _correlation(data: ReportData) -> dict[str, Any]:
    names = data.info.scores if len(data.info.scores) >= 2 else []
    return {
        "names": names,
        "pearson": _matrix(names, data.pearson) if names else [],
        "spearman": _matrix(names, data.spearman) if names else [],
        "sample": len(data.sample),
    }


def _scatter(data: ReportData, config: ReportConfig) -> dict[str, Any] | None:
    axes = data.info.scatter_axes(config.scatter)
    values = data.sample.payload.get("values")
    if axes is None or values is None:
        return None
    shown = min(config.scatter_points, len(values))
    x = values[:shown, data.info.scores.index(axes[0])]
    y = values[:shown, data.info.scores.index(axes[1])]
    kept, mask = None, None
    if data.selections:
        kept = {"name": data.selections[0].name, "colour": charts.colour(0)}
        mask = (data.sample.payload["patterns"][:shown] & 1) == 1
    chart = charts.scatter(x, y, axes, mask, charts.colour(0))
    points = int((np.isfinite(x) & np.isfinite(y)).sum())
    return {"x": axes[0], "y": axes[1], "chart": chart, "kept": kept, "points": points}


def _overlap(data: ReportData) -> dict[str, Any]:
    n = len(data.selections)
    counts = data.overlap.counts
    top = max(int(counts.max()), 1)
    patterns = [
        {
            "marks": [bool((p >> i) & 1) for i in range(n)],
            "count": int(counts[p]),
            "share": counts[p] / data.rows if data.rows else 0.0,
            "bar": 100.0 * counts[p] / top,
        }
        for p in sorted(range(len(counts)), key=lambda p: (-counts[p], p))
        if counts[p]
    ]
    pairs = []
    for i, a in enumerate(data.selections):
        cells = []
        for j in range(n):
            both = data.overlap.both(i, j)
            either = data.overlap.kept(i) + data.overlap.kept(j) - both
            cells.append(f"{both:,} ({both / either:.2f})" if either else "0")
        pairs.append((a.name, cells))
    return {"patterns": patterns, "pairs": pairs}


def _labels(data: ReportData, config: ReportConfig) -> dict[str, Any] | None:
    counts, labels = data.label_counts, data.labels
    if counts is None or labels is None:
        return None
    shares = counts.shares()
    subsets = [
        {
            "name": s.name,
            "colour": charts.colour(i),
            "cells": [
                (
                    _fmt(100 * v, ".1f") + "%" if math.isfinite(v) else "–",
                    100 * v if math.isfinite(v) else 0.0,
                )
                for v in shares[i]
            ],
        }
        for i, s in enumerate(data.selections)
    ]
    return {
        "column": config.label_column,
        "names": labels.names,
        "rows": counts.rows.tolist(),
        "subsets": subsets,
        "unlabelled": counts.unlabelled,
    }


def _card(data: ReportData, card: Card) -> dict[str, Any]:
    image = card.image
    return {
        "uid": card.uid,
        "shard": card.shard,
        "row": card.row,
        "status": card.status,
        "caption": card.caption,
        "url": card.url,
        "link": bool(card.url) and str(card.url).lower().startswith(LINK_SCHEMES),
        "label": card.label,
        "image": image.uri if image else None,
        "image_note": image.note if image else None,
        "scores": [(name, _fmt(v)) for name, v in card.scores.items()],
        "texts": list(card.texts.items()),
        "kept": [(s.name, charts.colour(i), card.kept[i]) for i, s in enumerate(data.selections)],
    }
