"""The model validation report of a training run: ROC, KS, calibration by grade, PSI/CSI, SHAP, gate verdict.

One self-contained HTML page (figures as base64 PNG, inline CSS), headings in Chinese and English from the
message catalogue, logged to the active MLflow run as ``validation_report.html``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from credit_points.reports.figures import (
    calibration_by_grade_figure,
    figure_png_base64,
    ks_figure,
    roc_figure,
    shap_summary_figure,
)
from credit_points.reports.messages import MessagesConfig, load_messages

if TYPE_CHECKING:
    from credit_points.pd_model.training import FitResult
    from credit_points.tracking.gate import GateResult

ARTIFACT_NAME = "validation_report.html"
_SHAP_ROWS = 500


def _clean(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None or not isinstance(frame, pd.DataFrame):
        return []
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def validation_sections(
    fit: FitResult,
    model_card: dict[str, Any],
    gate: GateResult | None,
    *,
    messages: MessagesConfig | None = None,
) -> dict[str, Any]:
    """The numbers of the validation report (what the HTML prints), as plain data."""
    msg = messages or load_messages()
    pack = fit.validation
    metrics = {k: _clean(v) for k, v in pack["metrics"].items()}
    challenger = {k: _clean(v) for k, v in fit.challenger_validation.get("metrics", {}).items()}
    csi = _records(pack.get("csi_table"))
    for row in csi:
        row["light"] = msg.stability.light(row.get("csi"))
    return {
        "metrics": metrics,
        "challenger": challenger,
        "score_psi": metrics.get("score_psi"),
        "score_psi_light": msg.stability.light(metrics.get("score_psi")),
        "grade_table": [g for g in _records(pack.get("grade_table")) if g.get("n")],
        "csi": sorted(csi, key=lambda r: -(r.get("csi") or 0.0)),
        "windows": model_card.get("windows", {}),
        "rows": model_card.get("rows", {}),
        "selection": {k: v for k, v in (fit.selection or {}).items() if k != "table"},
        "gate": None
        if gate is None
        else {"passed": bool(gate.passed), "criteria": _records(gate.to_frame())},
    }


def render_validation_report(
    fit: FitResult, model_card: dict[str, Any], gate: GateResult | None = None
) -> str:
    """The validation report of a training run as one self-contained HTML page.

    Args:
        fit: the training result (model, OOT frames and outcomes, validation pack).
        model_card: the run's model card (windows, rows, selection, limitations).
        gate: the promotion-gate verdict, when the run went through the gate.
    """
    from credit_points.reports.fonts import matplotlib_cjk_family
    from credit_points.reports.html import static_text, template_environment

    msg = load_messages()
    family = matplotlib_cjk_family()
    if family is not None:
        import matplotlib

        matplotlib.rcParams["font.sans-serif"] = [family, *matplotlib.rcParams["font.sans-serif"]]
    sections = validation_sections(fit, model_card, gate, messages=msg)
    grade_table = fit.validation["grade_table"]
    figures = {
        "roc": figure_png_base64(roc_figure(fit.y_oot, fit.prob_default_oot)),
        "ks": figure_png_base64(ks_figure(fit.y_oot, fit.prob_default_oot)),
        "calibration": figure_png_base64(calibration_by_grade_figure(grade_table)),
    }
    sample = fit.X_oot.sample(n=min(_SHAP_ROWS, len(fit.X_oot)), random_state=0)
    contrib, _ = fit.model.contributions(sample)
    figures["shap"] = figure_png_base64(shap_summary_figure(contrib, sample))

    def t(key: str) -> str:
        return f"{msg.text(key, 'zh')} / {msg.text(key, 'en')}"

    template = template_environment().get_template("validation.html.j2")
    return str(
        template.render(
            s=sections,
            card=model_card,
            figures=figures,
            t=t,
            css=Markup(static_text("report.css")),
            limitations=model_card.get("limitations"),
        )
    )


def log_validation_report(
    fit: FitResult,
    model_card: dict[str, Any],
    gate: GateResult | None = None,
    *,
    artifact_file: str = ARTIFACT_NAME,
) -> str:
    """Render the validation report and log it to the active MLflow run (``mlflow.log_text``); returns the HTML."""
    import mlflow

    html = render_validation_report(fit, model_card, gate)
    mlflow.log_text(html, artifact_file)
    return html
