"""Inline SVG charts of the per-loan report: limit waterfall, points by category, contributions by family.

Hand-written SVG: a few rectangles and text nodes cost microseconds, scale cleanly in print, and use the
page's CJK font. Each chart carries its numbers as ``data-`` attributes like the rest of the report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

COLOURS = {
    "bar": "#1565c0",
    "binding": "#c62828",
    "median": "#9e9e9e",
    "p75": "#f9a825",
    "up": "#c62828",
    "down": "#2e7d32",
    "axis": "#616161",
    "max": "#e3e8ef",
}


def _v(value: Any) -> str:
    return escape(json.dumps(value), quote=True)


def _t(text: str) -> str:
    return escape(str(text), quote=True)


def waterfall_svg(
    steps: Sequence[dict[str, Any]],
    fmt: Callable[[float | None], str],
    *,
    width: int = 680,
    height: int = 200,
) -> str:
    """Vertical bars, one per waterfall step (its value), the binding step in red with a thick outline."""
    values = [float(s["value"] or 0.0) for s in steps]
    top = max(values + [1.0])
    n = len(steps)
    pad_l, pad_b, pad_t = 10, 42, 22
    slot = (width - pad_l * 2) / max(n, 1)
    bar_w = slot * 0.62
    plot_h = height - pad_b - pad_t
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" data-chart="waterfall">'
    ]
    for k, (step, value) in enumerate(zip(steps, values, strict=True)):
        x = pad_l + k * slot + (slot - bar_w) / 2
        h = plot_h * value / top
        y = pad_t + plot_h - h
        colour = COLOURS["binding"] if step["binding"] else COLOURS["bar"]
        stroke = ' stroke="#7f0000" stroke-width="3"' if step["binding"] else ""
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 0.5):.1f}" fill="{colour}"{stroke}'
            f' data-step="{_t(step["step"])}" data-value="{_v(step["value"])}" data-binding="{str(step["binding"]).lower()}"/>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{y - 5:.1f}" text-anchor="middle" font-size="11">{_t(fmt(step["value"]))}</text>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - pad_b + 16:.1f}" text-anchor="middle" font-size="11"'
            f' fill="{COLOURS["axis"]}">{_t(step["label"])}</text>'
        )
    parts.append(
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - pad_l}" y2="{pad_t + plot_h}" stroke="{COLOURS["axis"]}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def category_svg(
    rows: Sequence[dict[str, Any]],
    labels: dict[str, str],
    *,
    width: int = 680,
    row_h: int = 46,
) -> str:
    """Horizontal bars per category: the firm's points, the stage median and P75 as markers, the maximum as track.

    ``rows``: ``label``, ``points``, ``median_points``, ``p75_points``, ``max_points``.
    ``labels``: legend texts for ``firm``, ``median``, ``p75``.
    """
    pad_l, pad_r, pad_t = 150, 60, 26
    plot_w = width - pad_l - pad_r
    height = pad_t + row_h * len(rows) + 8
    top = max([float(r["max_points"] or 0.0) for r in rows] + [1.0])
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" data-chart="categories">'
    ]
    legend = [("firm", COLOURS["bar"]), ("median", COLOURS["median"]), ("p75", COLOURS["p75"])]
    for k, (key, colour) in enumerate(legend):
        x = pad_l + k * 150
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="16" font-size="11">{_t(labels[key])}</text>')
    for k, row in enumerate(rows):
        y = pad_t + k * row_h
        scale = plot_w / top
        track = float(row["max_points"] or 0.0) * scale
        value = float(row["points"] or 0.0)
        parts.append(
            f'<text x="{pad_l - 8}" y="{y + 20}" text-anchor="end" font-size="12">{_t(row["label"])}</text>'
        )
        parts.append(
            f'<rect x="{pad_l}" y="{y + 6}" width="{track:.1f}" height="20" fill="{COLOURS["max"]}"/>'
        )
        parts.append(
            f'<rect x="{pad_l}" y="{y + 8}" width="{max(value * scale, 0.5):.1f}" height="16" fill="{COLOURS["bar"]}"'
            f' data-value="{_v(row["points"])}"/>'
        )
        parts.append(
            f'<text x="{pad_l + track + 6:.1f}" y="{y + 21}" font-size="11">{value:.1f} / {float(row["max_points"] or 0):g}</text>'
        )
        for key in ("median", "p75"):
            mark = row.get(f"{key}_points")
            if mark is None:
                continue
            mark_x = pad_l + float(mark) * scale
            parts.append(
                f'<line x1="{mark_x:.1f}" y1="{y + 2}" x2="{mark_x:.1f}" y2="{y + 30}" stroke="{COLOURS[key]}" stroke-width="3"'
                f' data-{key}="{_v(mark)}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def contributions_svg(
    base: float | None,
    families: Sequence[dict[str, Any]],
    labels: dict[str, str],
    *,
    width: int = 680,
    row_h: int = 26,
) -> str:
    """Waterfall of log-odds: base, then each reason family's contribution (red raises PD, green lowers it)."""
    if base is None or not families:
        return ""
    running = [float(base)]
    for fam in families:
        running.append(running[-1] + float(fam["contribution"]))
    lo, hi = min(running + [0.0]), max(running + [0.0])
    span = (hi - lo) or 1.0
    pad_l, pad_r, pad_t = 190, 70, 8
    plot_w = width - pad_l - pad_r
    rows = len(families) + 2
    height = pad_t + row_h * rows + 8

    def x_of(v: float) -> float:
        return pad_l + (v - lo) / span * plot_w

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" data-chart="contributions">'
    ]
    parts.append(
        f'<line x1="{x_of(0):.1f}" y1="{pad_t}" x2="{x_of(0):.1f}" y2="{height - 6}" stroke="{COLOURS["axis"]}" stroke-dasharray="3,3"/>'
    )

    def bar(k: int, start: float, end: float, colour: str, label: str, value: float, attr: str) -> None:
        y = pad_t + k * row_h
        x0, x1 = sorted((x_of(start), x_of(end)))
        parts.append(
            f'<text x="{pad_l - 8}" y="{y + 17}" text-anchor="end" font-size="11">{_t(label)}</text>'
        )
        parts.append(
            f'<rect x="{x0:.1f}" y="{y + 5}" width="{max(x1 - x0, 1.0):.1f}" height="16" fill="{colour}" {attr}="{_v(value)}"/>'
        )
        parts.append(f'<text x="{max(x0, x1) + 4:.1f}" y="{y + 17}" font-size="10">{value:+.3f}</text>')

    bar(0, 0.0, float(base), COLOURS["median"], labels["base"], float(base), "data-base")
    for k, fam in enumerate(families, start=1):
        value = float(fam["contribution"])
        colour = COLOURS["up"] if value > 0 else COLOURS["down"]
        bar(k, running[k - 1], running[k], colour, fam["label"], value, "data-family-value")
    bar(rows - 1, 0.0, running[-1], COLOURS["bar"], labels["total"], running[-1], "data-total")
    parts.append("</svg>")
    return "".join(parts)
