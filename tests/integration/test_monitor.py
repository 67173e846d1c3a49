"""Monitoring a window in process: a drift put into a window's inputs is found there and not in the same
firms' undrifted window, a window without decisions is said as such, and a version without a monitoring
reference is still back-tested (the command line on both engines: test_monitor_drift.py)."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def test_monitor_finds_the_drift_put_into_a_window_and_says_when_there_is_nothing(trained_model, tmp_path):
    # in process, on SQLite: test_monitor_drift.py runs the command line on both engines
    import datetime as dt

    from credit_points.audit.store import AuditStore
    from credit_points.pipelines.monitor import monitor_window
    from credit_points.pipelines.score import BatchAudit, score_file

    engine = trained_model.engine
    frame = trained_model.applicants.drop(columns=["default_12m"])
    stable = frame[frame["as_of_date"].dt.year == 2024].head(800)
    # the same firms a year later with their business transformed: revenue ×8, 45 more days overdue
    drifted = stable.assign(
        as_of_date=pd.Timestamp("2025-06-30"),
        revenue=stable["revenue"] * 8,
        max_overdue_days_24m=stable["max_overdue_days_24m"] + 45,
    )
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create_schema()
    try:
        for name, part in (("stable", stable), ("drifted", drifted)):
            part.to_parquet(tmp_path / f"{name}.parquet")
            score_file(engine, tmp_path / f"{name}.parquet", tmp_path / f"{name}-out.parquet",
                       audit=BatchAudit(store, f"test-{name}"))  # fmt: skip

        def monitor(year: int, last: str = "12-31"):  # noqa: ANN202
            until = dt.date.fromisoformat(f"{year}-{last}")
            return monitor_window(store, engine, since=dt.date(year, 1, 1), until=until)

        calm_window = monitor(2024)
        assert calm_window.decisions == len(stable) and abs(sum(calm_window.decision_mix.values()) - 1) < 1e-9
        calm = {row["name"] for row in calm_window.stability if row["status"] != "green"}
        assert calm_window.exit_code == {"green": 0, "amber": 1, "red": 2}[calm_window.status]
        assert not {"log_revenue", "max_overdue_days_24m", "prob_default"} & calm, calm_window.reasons

        moved = monitor(2025)
        assert moved.exit_code in (1, 2) and moved.status in ("amber", "red"), moved.reasons
        flagged = {row["name"] for row in moved.stability if row["status"] != "green"}
        assert {"log_revenue", "max_overdue_days_24m", "prob_default"} <= flagged - calm
        assert any("CSI log_revenue" in reason for reason in moved.reasons)  # the figure, value, threshold

        empty = monitor(2026, "06-30")
        assert (empty.exit_code, empty.status, empty.decisions) == (1, "no decisions", 0), empty.reasons
    finally:
        store.dispose()


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
