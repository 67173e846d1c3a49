"""The parts of a monitoring window computed from the training table alone: limits in force after
overrides, the book by stage and product, the override analysis — against sums done by hand — and the
report of a window with nothing to judge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_points.pipelines.monitor import (
    MonitorResult,
    _limits_in_force,
    book_table,
    override_analysis,
)
from credit_points.reports.monitoring import render_monitoring_report


@pytest.fixture
def window() -> pd.DataFrame:
    """Six decisions as the training table holds them (decision in force already after overrides)."""
    return pd.DataFrame(
        {
            "decision_id": ["a", "b", "c", "d", "e", "f"],
            "points_stage": ["seed", "seed", "growth", "growth", "growth", None],
            "product_decided": ["keji_dai", None, "keji_dai", "keji_dai", "jifen_dai", None],
            "decision_as_decided": ["approve", "decline", "approve", "approve", "refer", "decline"],
            "decision": ["approve", "approve", "decline", "approve", "refer", "decline"],
            "limit_decided": [1_000_000.0, 0.0, 2_000_000.0, 3_000_000.0, 500_000.0, np.nan],
            "expected_loss_decided": [10_000.0, 0.0, 30_000.0, 20_000.0, 5_000.0, np.nan],
            "prob_default_decided": [0.01, 0.20, 0.02, 0.01, 0.05, 0.30],
            "outcome": ["matured", "matured", "no_outcome", "matured", "no_outcome", "no_outcome"],
            "default_12m": pd.array([0, 1, None, 0, None, None], dtype="Int8"),
        }
    )


@pytest.fixture
def overrides() -> list[dict]:
    """b: decline → approve at 400,000 then its limit raised to 600,000; c: approve → decline."""
    return [
        {"parent_id": "b", "reason": "relationship", "officer": "wang", "new_values": {"decision": "approve", "limit": 400_000}},
        {"parent_id": "c", "reason": "sector outlook", "officer": "li", "new_values": {"decision": "decline"}},
        {"parent_id": "b", "reason": "collateral", "officer": "wang", "new_values": {"limit": 600_000}},
    ]  # fmt: skip


def test_limits_in_force_follow_the_overrides_in_chain_order(window, overrides):
    limits = _limits_in_force(window, overrides)
    # a: the model's; b: the last officer's limit; c: declined in force; d: the model's; e, f: not approved
    assert limits.tolist() == [1_000_000.0, 600_000.0, 0.0, 3_000_000.0, 0.0, 0.0]


def test_book_by_stage_and_product_adds_up_to_the_window(window, overrides):
    frame = window.assign(limit_in_force=_limits_in_force(window, overrides))
    book = {(r["stage"], r["product"]): r for r in book_table(frame)}
    assert set(book) == {
        ("seed", "keji_dai"),
        ("seed", "—"),
        ("growth", "keji_dai"),
        ("growth", "jifen_dai"),
        ("—", "—"),
    }
    growth = book[("growth", "keji_dai")]
    assert (growth["decisions"], growth["approve"], growth["decline"]) == (2, 1, 1)
    assert growth["limit_approved"] == 3_000_000.0
    assert growth["expected_loss"] == 50_000.0  # the model's two approvals, as decided
    assert book[("seed", "—")]["limit_approved"] == 600_000.0  # an officer's approval
    assert book[("seed", "—")]["expected_loss"] == 0.0  # the model declined it: no expected loss recorded
    assert sum(r["decisions"] for r in book.values()) == len(window)
    assert sum(r["refer"] for r in book.values()) == 1


def test_override_analysis_counts_and_compares_performance(window, overrides):
    out = override_analysis(window, overrides)
    assert (out["overrides"], out["decisions_overridden"]) == (3, 2)
    assert out["rate"] == pytest.approx(2 / 6)
    assert {r["reason"]: r["n"] for r in out["by_reason"]} == {
        "relationship": 1,
        "sector outlook": 1,
        "collateral": 1,
    }
    assert {r["officer"]: r["n"] for r in out["by_officer"]} == {"wang": 2, "li": 1}
    assert {(c["from"], c["to"]): c["n"] for c in out["changes"]} == {
        ("decline", "approve"): 1,
        ("approve", "decline"): 1,
    }
    group = {g["group"]: g for g in out["performance"]}
    # matured: a, d decided by the model (no default), b overridden (defaulted)
    assert (group["model"]["matured"], group["model"]["defaults"]) == (2, 0)
    assert (group["override"]["matured"], group["override"]["defaults"]) == (1, 1)
    assert group["override"]["mean_pd"] == pytest.approx(0.20)
    from scipy.stats import fisher_exact

    assert out["performance_p_value"] == pytest.approx(fisher_exact([[0, 2], [1, 0]]).pvalue)


def test_no_overrides_means_a_zero_rate_and_no_comparison(window):
    out = override_analysis(window, [])
    assert out["rate"] == 0.0 and out["by_reason"] == [] and "performance_p_value" not in out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_window_without_decisions_reports_so(lang):
    result = MonitorResult(
        "7", ("2026-01-01", "2026-01-31"), 0, "no decisions", ["no decisions by version 7 in the window"]
    )
    html = render_monitoring_report(result.as_dict(), lang)
    assert 'data-value="no decisions"' in html and "no decisions by version 7" in html
    assert 'id="backtest"' not in html and "data:image/png" not in html  # nothing to chart or back-test
