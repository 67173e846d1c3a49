"""`credit-points monitor` through the real command line, on SQLite and PostgreSQL: a drift put into a
window is found there and not in the same firms' undrifted window, and a window without decisions is said
as such."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from .cli import run_cli

pytestmark = pytest.mark.slow


def test_monitor_finds_the_drift_put_into_a_window_and_says_when_there_is_nothing(
    trained_model, tmp_path, audit_target
):
    url, env = audit_target
    model = f"models:/credit-points/{trained_model.version}"
    frame = trained_model.applicants.drop(columns=["default_12m"])
    stable = frame[frame["as_of_date"].dt.year == 2024].head(1500)
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
                          "--audit-url", url], env)  # fmt: skip
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
