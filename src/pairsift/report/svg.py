"""A tiny SVG/HTML element builder that escapes every attribute value and every text child.

``el("text", caption, x=3, class_="label")`` -> ``<text x="3" class="label">…escaped…</text>``.
Children that are already :class:`markupsafe.Markup` (other elements) are inserted as they are;
anything else is escaped, so text from the data can never become markup.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

#: Attributes written without the trailing underscore and with ``-`` for ``_``: ``class_``, ``font_size``.
VOID = frozenset({"line", "rect", "circle", "path", "polyline"})


def number(value: float) -> str:
    """Coordinates with two decimals at most (``12.5``, ``3``): short files, no visible loss."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite coordinate: {value}")
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _value(value: object) -> str:
    if isinstance(value, float):
        return number(value)
    return str(value)


def _name(key: str) -> str:
    return key.rstrip("_").replace("_", "-")


def el(tag: str, *children: object, **attrs: object) -> Markup:
    """One element; ``None`` attributes are left out; void SVG shapes without children self-close."""
    head = " ".join([tag] + [f'{_name(k)}="{escape(_value(v))}"' for k, v in attrs.items() if v is not None])
    if not children and tag in VOID:
        return Markup(f"<{head}/>")
    inner = Markup("").join(escape(c) for c in children)
    return Markup(f"<{head}>{inner}</{tag}>")


def join(parts: list[Markup]) -> Markup:
    return Markup("").join(parts)
