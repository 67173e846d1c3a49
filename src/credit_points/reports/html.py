"""HTML rendering of the per-loan report: the Jinja2 template, number formats and inline assets.

The page is self-contained (inline CSS and SVG, no network), printable on A4, and every number it shows
from the record sits in ``<span data-field="path" data-value="json">`` (``data-derived`` for numbers of the
derived sections), so what is printed can be checked against the record.
"""

from __future__ import annotations

import html
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

from markupsafe import Markup, escape

from credit_points.reports.charts import category_svg, contributions_svg, waterfall_svg
from credit_points.reports.messages import MessagesConfig

DASH = "—"


@lru_cache(maxsize=1)
def template_environment() -> Any:
    """The Jinja2 environment of the report templates (autoescaped, strict), built once."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("credit_points.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=4)
def static_text(name: str) -> str:
    """A file of ``reports/static`` (read once)."""
    return resources.files("credit_points.reports").joinpath("static", name).read_text(encoding="utf-8")


class Formatter:
    """Number formats for one language, and the ``data-`` spans that carry exact values."""

    def __init__(self, lang: str, messages: MessagesConfig) -> None:
        self.lang = lang
        self.money_format = messages.money[lang]  # type: ignore[index]

    # plain text ------------------------------------------------------------
    def money(self, value: Any) -> str:
        """Money: 万元 with two decimals for Chinese (亿元 from 100 million), whole yuan for English.

        Examples:
            >>> from credit_points.reports.messages import load_messages
            >>> zh = Formatter("zh", load_messages())
            >>> zh.money(417_586_400.0), zh.money(3_000_000.0)
            ('4.18 亿元', '300.00 万元')
        """
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return DASH
        m = self.money_format
        amount = float(value)
        if m.large_from is not None and m.large_divisor and m.large_unit and abs(amount) >= m.large_from:
            return f"{amount / m.large_divisor:,.{m.decimals}f} {m.large_unit}"
        return f"{amount / m.divisor:,.{m.decimals}f} {m.unit}"

    @staticmethod
    def pct(value: Any, decimals: int = 1) -> str:
        """A fraction as a percentage."""
        if value is None:
            return DASH
        return f"{float(value) * 100:.{decimals}f}%"

    @staticmethod
    def points(value: Any) -> str:
        return DASH if value is None else f"{float(value):.1f}"

    @staticmethod
    def count(value: Any) -> str:
        return DASH if value is None else f"{float(value):,.0f}"

    @staticmethod
    def logodds(value: Any) -> str:
        return DASH if value is None else f"{float(value):+.3f}"

    def text(self, value: Any, kind: str) -> str:
        """``value`` printed as ``kind`` (money, pct, rate, pd, points, count, logodds or an indicator unit)."""
        if kind in ("money", "yuan", "yuan_per_person"):
            return self.money(value)
        if kind in ("pct", "ratio"):
            return self.pct(value, 1)
        if kind in ("rate", "pd"):
            return self.pct(value, 2)
        if kind.startswith("pct:"):  # a percentage at a chosen precision (a trigger's comparison)
            return self.pct(value, int(kind[4:]))
        if kind == "points":
            return self.points(value)
        if kind == "logodds":
            return self.logodds(value)
        if kind == "score":
            return DASH if value is None else f"{float(value):.2f}"
        return self.count(value)

    # spans -----------------------------------------------------------------
    def field(self, path: str, value: Any, kind: str) -> Markup:
        """A number read from the record: ``data-field`` is its path in the record."""
        return self._span("data-field", path, value, kind)

    def derived(self, path: str, value: Any, kind: str) -> Markup:
        """A number of the derived sections: ``data-derived`` is its path in the JSON report."""
        return self._span("data-derived", path, value, kind)

    def _span(self, attr: str, path: str, value: Any, kind: str) -> Markup:
        data = html.escape(json.dumps(value, allow_nan=False), quote=True)
        text = html.escape(self.text(value, kind), quote=False)
        return Markup(
            f'<span class="num" {attr}="{html.escape(path, quote=True)}" data-value="{data}">{text}</span>'
        )


def render_html(
    record: dict[str, Any], sections: dict[str, Any], lang: str, *, messages: MessagesConfig
) -> str:
    """The report page for one record and its derived sections."""
    fmt = Formatter(lang, messages)

    def t(key: str, **values: Any) -> str:
        return messages.text(key, lang, **values)

    outcome = sections["outcome"]
    points = sections["points"]
    rec_points = record["points"]
    category_rows = [{**c, "points": rec_points["categories"].get(c["id"])} for c in points["categories"]]
    charts = {
        # a decline before any limit was calculated has an all-zero waterfall: the table says it, no chart
        "waterfall": Markup(waterfall_svg(outcome["waterfall"], fmt.money))
        if any(step["value"] for step in outcome["waterfall"])
        else Markup(""),
        "categories": Markup(
            category_svg(
                category_rows,
                {"firm": t("points.firm"), "median": t("points.stage_median"), "p75": t("points.stage_p75")},
            )
        ),
        "contributions": Markup(
            contributions_svg(
                sections["risk"]["contrib_base"],
                sections["risk"]["families"],
                {"base": t("risk.base"), "total": t("risk.raw_score")},
            )
        ),
    }
    template = template_environment().get_template("loan.html.j2")
    return str(
        template.render(
            lang=lang,
            rec=record,
            rep=sections,
            fmt=fmt,
            t=t,
            charts=charts,
            css=Markup(static_text("report.css")),
            escape=escape,
        )
    )
