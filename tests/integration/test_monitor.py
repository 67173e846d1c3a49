"""`credit-points monitor` through the real command line: a drift put into a
window is found there and not in the same firms' undrifted window, and a window without decisions is said
as such."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from .cli import run_cli

pytestmark = pytest.mark.slow


def test_monitor_finds_the_drift_put_into_a_window_and_says_when_there_is_nothing(trained_model, tmp_path):
    # SQLite here; test_monitor_drift.py runs monitor on both engines
    url, env = f"sqlite:///{tmp_path / 'audit.db'}", trained_model.env()
    model = f"models:/credit-points/{trained_model.version}"
    frame = trained_model.applicants.drop(columns=["default_12m"])
    stable = frame[frame["as_of_date"].dt.year == 2024].head(800)
    # the same firms a year later with their business transformed: revenue ×8, 45 more days overdue
    drifted = stable.assign(
        as_of_date=pd.Timestamp("2025-06-30"),
        revenue=stable["revenue"] * 8,
        max_overdue_days_24m=stable["max_overdue_days_24m"] + 45,
    )
    for name, part in (("stable", stable), ("drifted", drifted)):
        part.to_parquet(tmp_path / f"{name}.parquet")
        result = run_cli(["score", "--model", model, "--in", str(tmp_path / f"{name}.parquet"),
                          "--out", str(tmp_path / f"{name}-out.parquet"), "--audit", "--audit-url", url], env)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr

    def monitor(since: str, until: str) -> tuple[int, dict, str]:
        out = tmp_path / f"monitor-{since}"
        result = run_cli(["monitor", "--model", model, "--since", since, "--until", until, "--out", str(out),
                          "--audit-url", url, "--no-mlflow"], env)  # fmt: skip
        return (
            result.returncode,
            json.loads((out / "monitor.json").read_text()),
            result.stdout + result.stderr,
        )

    code, figures, text = monitor("2024-01-01", "2024-12-31")
    assert figures["decisions"] == len(stable) and abs(sum(figures["decision_mix"].values()) - 1) < 1e-9
    calm = {row["name"] for row in figures["stability"] if row["status"] != "green"}
    assert code == {"green": 0, "amber": 1, "red": 2}[figures["status"]], text
    assert not {"log_revenue", "max_overdue_days_24m", "prob_default"} & calm, text

    code, figures, text = monitor("2025-01-01", "2025-12-31")
    assert code in (1, 2) and figures["status"] in ("amber", "red"), text
    flagged = {row["name"] for row in figures["stability"] if row["status"] != "green"}
    assert {"log_revenue", "max_overdue_days_24m", "prob_default"} <= flagged - calm
    assert any(
        "CSI log_revenue" in reason for reason in figures["reasons"]
    )  # the figure, its value, the threshold
    assert "CSI log_revenue" in text

    code, figures, text = monitor("2026-01-01", "2026-06-30")
    assert code == 1 and figures["status"] == "no decisions" and figures["decisions"] == 0, text


def test_a_version_without_a_monitoring_reference_is_said_so_and_still_back_tested(trained_model, tmp_path):
    # given a version registered before model cards kept a monitoring reference, which decided 300 firms
    import dataclasses

    from credit_points.audit.store import AuditStore
    from credit_points.pipelines.monitor import monitor_window
    from credit_points.pipelines.score import BatchAudit, score_file

    engine = trained_model.engine
    card = {k: v for k, v in engine.model_card.items() if k != "monitoring_reference"}
    older = dataclasses.replace(engine, model_card=card)
    rows = trained_model.applicants.drop(columns=["default_12m"])
    rows[rows["as_of_date"].dt.year == 2024].head(300).to_parquet(tmp_path / "in.parquet")
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create_schema()
    try:
        score_file(older, tmp_path / "in.parquet", tmp_path / "out.parquet", audit=BatchAudit(store, "test"))
        # when monitored
        result = monitor_window(store, older)
    finally:
        store.dispose()
    # then it says why there are no indices, with the figures it can give, and is not green
    assert result.status == "no reference" and result.exit_code == 1
    assert result.stability == [] and result.grades == {}
    assert "before model cards kept a monitoring reference" in result.reasons[0]
    assert result.decisions == 300 and sum(r["decisions"] for r in result.book) == 300
    assert result.backtest["status"] == "no matured outcomes" and result.backtest["matured"] == 0
