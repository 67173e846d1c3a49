"""The model validation report of a training run: figures, calibration lights, PSI/CSI, gate, logged to MLflow."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from credit_points.config import CONFIG_DIR, load_config
from credit_points.reports.validation import (
    log_validation_report,
    render_validation_report,
    validation_sections,
)
from credit_points.tracking.gate import PromotionConfig, evaluate_gate


@pytest.fixture(scope="module")
def fit(trained_model):
    """A fit on the session's generated panel (the run_train steps up to the fit)."""
    from credit_points.pd_model.config import load_pd_config
    from credit_points.pd_model.training import fit_pd_model
    from credit_points.pipelines.common import score_points_by_cohort
    from credit_points.points.config import load_points_config

    frame = trained_model.applicants.reset_index(drop=True)
    points, _ = score_points_by_cohort(frame, load_points_config("torch-18"))
    return fit_pd_model(pd.concat([frame, points], axis=1), load_pd_config("default"))


@pytest.fixture(scope="module")
def gate(fit):
    metrics = fit.validation["metrics"]
    table = fit.validation["grade_table"]
    return evaluate_gate(
        load_config(CONFIG_DIR / "promotion.yaml", PromotionConfig),
        oot_auc=float(metrics["auc"]),
        n_defaults=int(metrics["defaults"]),
        red_grades=[str(g) for g in table.loc[table["traffic_light"] == "red", "grade"]],
        psi=0.5,  # a shifted score: this criterion fails
        auc_drop_p_value=None,
        champion_auc=None,
    )


@pytest.fixture(scope="module")
def report(fit, trained_model, gate):
    return render_validation_report(
        fit, {"windows": {"train": ["2019-01-01", "2021-12-31"]}, "rows": {"train": 10}}, gate
    )


def test_report_has_every_section_with_inline_figures(report):
    for section in ("summary", "discrimination", "calibration", "stability", "shap", "gate", "limitations"):
        assert f'id="{section}"' in report
    # four figures (ROC, KS, calibration, SHAP), all inline PNG: nothing to fetch
    assert report.count('src="data:image/png;base64,') == 4
    assert "http://" not in report and "https://" not in report


def test_headline_metrics_equal_the_validation_pack(report, fit):
    metrics = {
        m: json.loads(v.replace("&#34;", '"'))
        for m, v in re.findall(r'data-metric="(\w+)" data-value="([^"]*)"', report)
    }
    for name in ("auc", "ks", "gini", "brier", "ece", "score_psi"):
        expected = fit.validation["metrics"].get(name)
        assert metrics.get(name) == (None if expected is None else float(expected)), name


def test_ks_is_the_largest_gap_of_the_cumulative_distributions(fit):
    # KS printed in the pack equals the two-sample KS statistic computed independently (scipy)
    from scipy.stats import ks_2samp

    y, p = fit.y_oot, fit.prob_default_oot
    assert fit.validation["metrics"]["ks"] == pytest.approx(
        ks_2samp(p[y == 1], p[y == 0]).statistic, abs=1e-9
    )


def test_calibration_lights_and_csi_lights(fit, report):
    sections = validation_sections(fit, {}, None)
    table = fit.validation["grade_table"]
    lit = dict(re.findall(r'data-grade="([^"]+)" data-light="([^"]+)"', report))
    for _, row in table[table["n"] > 0].iterrows():
        assert lit[str(row["grade"])] == row["traffic_light"]
    # CSI lights follow the catalogue's bands: below 0.10 green, from 0.25 red
    for row in sections["csi"]:
        value = row["csi"]
        expected = (
            "n/a" if value is None else "red" if value >= 0.25 else "amber" if value >= 0.10 else "green"
        )
        assert row["light"] == expected


def test_gate_verdict_is_shown(report, gate):
    assert not gate.passed  # the PSI criterion was made to fail
    assert 'data-gate="failed"' in report
    for criterion in gate.criteria:
        assert f'data-criterion="{criterion.name}"' in report


def test_without_a_gate_the_report_says_so(fit):
    html = render_validation_report(fit, {}, None)
    assert "data-gate=" not in html and "promotion gate" in html


def test_logged_to_the_active_mlflow_run(fit, trained_model, tmp_path):
    import mlflow

    from credit_points.config import get_settings
    from credit_points.tracking.setup import configure_tracking

    configure_tracking(get_settings())
    mlflow.set_experiment("validation-report-test")
    with mlflow.start_run() as run:
        html = log_validation_report(fit, {}, None)
    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="validation_report.html",
                                                dst_path=str(tmp_path))  # fmt: skip
    assert Path(local).read_text(encoding="utf-8") == html
