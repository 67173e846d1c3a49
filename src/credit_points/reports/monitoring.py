"""The monitoring report of one window (``credit-points monitor``): verdict and reasons, decision mix, limits
and expected loss by stage and product, PSI/CSI with their significance, grade mix, the back-test on matured
loans and the override analysis — one self-contained HTML page per language (figures as inline PNG)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from credit_points.reports.messages import LANGS, load_messages


def report_file(lang: str) -> str:
    """The report's file name in one language."""
    return f"monitoring_report_{lang}.html"


def monitoring_figures(figures: dict[str, Any]) -> dict[str, str]:
    """The report's charts as base64 PNG (drawn once for both languages; their labels are English)."""
    import pandas as pd

    from credit_points.reports.figures import (
        calibration_by_grade_figure,
        figure_png_base64,
        grade_mix_figure,
        stability_figure,
    )

    out: dict[str, str] = {}
    t = figures.get("thresholds", {})
    if figures.get("stability"):
        out["stability"] = figure_png_base64(
            stability_figure(figures["stability"], t.get("psi_amber", 0.10), t.get("psi_red", 0.25))
        )
    if figures.get("grades"):
        out["grades"] = figure_png_base64(grade_mix_figure(figures["grades"]))
    table = figures.get("backtest", {}).get("grade_table")
    if table:
        out["calibration"] = figure_png_base64(
            calibration_by_grade_figure(pd.DataFrame(table), title="Back-test: calibration by grade")
        )
    return out


def render_monitoring_report(
    figures: dict[str, Any], lang: str = "zh", charts: dict[str, str] | None = None
) -> str:
    """One window's monitoring report (``MonitorResult.as_dict()``) as a self-contained HTML page.

    Args:
        figures: the window's figures, as ``monitor.json`` holds them.
        lang: ``zh`` or ``en``.
        charts: the charts from :func:`monitoring_figures` (drawn here when omitted).
    """
    from credit_points.reports.html import Formatter, static_text, template_environment

    if lang not in LANGS:
        raise ValueError(f"lang: expected one of {LANGS}, got {lang!r}")
    msg = load_messages()

    def t(key: str, **values: Any) -> str:
        return msg.text(key, lang, **values)

    template = template_environment().get_template("monitoring.html.j2")
    return str(
        template.render(
            m=figures,
            lang=lang,
            t=t,
            fmt=Formatter(lang, msg),
            charts=charts if charts is not None else monitoring_figures(figures),
            css=Markup(static_text("report.css")),
        )
    )


def write_monitoring_reports(figures: dict[str, Any], out_dir: Any) -> dict[str, Any]:
    """Write the report in every language to ``out_dir``; returns ``{lang: path}``."""
    from pathlib import Path

    charts = monitoring_figures(figures)
    paths = {}
    for lang in LANGS:
        path = Path(out_dir) / report_file(lang)
        path.write_text(render_monitoring_report(figures, lang, charts), encoding="utf-8")
        paths[lang] = path
    return paths
