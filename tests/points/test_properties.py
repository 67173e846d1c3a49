"""Hypothesis properties: monotonicity in every indicator's direction, caps, totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit_points.points.scorer import PointsScorer

# raw fields that feed exactly one higher-is-better indicator of torch-18 (or several, all higher-is-better)
HIGHER_FIELDS = ["rd_expense", "invention_patents_valid", "ip_filings_3y", "tech_contract_value", "tax_paid",
                 "equity_financing_3y", "gov_st_projects", "rd_platform_tier", "tech_qualification_tier",
                 "rd_staff", "degree_staff", "net_profit"]  # fmt: skip
INTEGER = {"invention_patents_valid", "ip_filings_3y", "gov_st_projects", "rd_staff", "degree_staff"}
TIERS = {"rd_platform_tier": 3, "tech_qualification_tier": 4}
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def firm_and_raise(draw):
    field = draw(st.sampled_from(HIGHER_FIELDS))
    revenue = draw(st.floats(1e4, 5e9))
    employees = float(draw(st.integers(1, 5000)))
    if field in TIERS:
        low = float(draw(st.integers(0, TIERS[field])))
        high = float(draw(st.integers(int(low), TIERS[field])))
    elif field in INTEGER:
        cap = employees if field in {"rd_staff", "degree_staff"} else 500.0
        low = float(draw(st.integers(0, int(cap))))
        high = float(draw(st.integers(int(low), int(cap))))
    else:
        cap = revenue if field == "rd_expense" else 1e9
        low = draw(st.floats(0, cap))
        high = draw(st.floats(low, cap))
    return field, revenue, employees, low, high


@SETTINGS
@given(case=firm_and_raise())
def test_raising_a_higher_is_better_field_never_lowers_points(make_frame, torch18, reference, case):
    field, revenue, employees, low, high = case
    base = {"revenue": revenue, "employees": employees, "rd_staff": min(8.0, employees),
            "degree_staff": min(20.0, employees), "rd_expense": min(600_000.0, revenue)}  # fmt: skip
    frame = make_frame([{**base, field: low}, {**base, field: high}])
    out = PointsScorer(torch18, reference).score(frame)
    assert out["points_core"].iloc[1] >= out["points_core"].iloc[0]
    assert out["points_total"].iloc[1] >= out["points_total"].iloc[0]


@SETTINGS
@given(
    assets=st.floats(1e5, 1e9),
    low=st.floats(0, 1.0),
    high=st.floats(0, 1.0),
)
def test_lowering_a_lower_is_better_indicator_never_lowers_points(
    make_frame, torch18, reference, assets, low, high
):
    # debt to assets is lower-is-better: fewer liabilities on the same assets never cost points
    less, more = sorted([low, high])
    frame = make_frame([{"total_assets": assets, "total_liabilities": assets * less},
                        {"total_assets": assets, "total_liabilities": assets * more}])  # fmt: skip
    out = PointsScorer(torch18, reference).score(frame)
    assert out["ind_debt_to_assets_points"].iloc[0] >= out["ind_debt_to_assets_points"].iloc[1]
    assert out["points_total"].iloc[0] >= out["points_total"].iloc[1]


@SETTINGS
@given(
    counts=st.lists(st.integers(0, 60), min_size=6, max_size=6),
    grade=st.sampled_from(["A", "B", "M", "C", "D"]),
    status=st.sampled_from(["good", "abnormal", "ordinary_dishonest", "serious_dishonest"]),
    flags=st.lists(st.booleans(), min_size=2, max_size=2),
)
def test_caps_and_floor_hold_for_any_conduct(make_frame, torch18, reference, counts, grade, status, flags):
    awards, standards, pct, talent, penalties, lawsuits = map(float, counts)
    frame = make_frame([{"national_st_awards": awards, "standards_led": standards, "pct_filings": pct,
                         "high_level_talent": talent, "admin_penalties_2y": penalties,
                         "defendant_lawsuits_1y": lawsuits, "tax_credit_grade": grade, "credit_status": status,
                         "capital_market": flags[0], "abnormal_operation_list": flags[1]}])  # fmt: skip
    out = PointsScorer(torch18, reference).score(frame).iloc[0]
    assert 0 <= out["points_bonus"] <= torch18.bonus.cap
    assert 0 <= out["points_deductions"] <= torch18.deductions.cap
    assert out["points_total"] >= 0
    for item in torch18.bonus.items + torch18.deductions.items:
        prefix = "bonus_" if item in torch18.bonus.items else "deduction_"
        assert out[prefix + item.id] <= (item.cap if item.cap is not None else item.points)
    assert out["veto"] == (grade == "D" or status == "serious_dishonest")


@SETTINGS
@given(order=st.permutations(list(range(12))))
def test_any_row_order_gives_the_same_points(panel, torch18, reference, order):
    frame = panel.head(12)
    base = PointsScorer(torch18, reference).score(frame)
    other = PointsScorer(torch18, reference).score(frame.iloc[list(order)]).loc[base.index]
    pd.testing.assert_frame_equal(base, other, check_exact=True)
    assert np.array_equal(base["points_total"].to_numpy(), other["points_total"].to_numpy())


@SETTINGS
@given(
    field=st.sampled_from(
        ["admin_penalties_2y", "defendant_lawsuits_1y", "max_overdue_days_24m", "existing_bank_debt"]
    ),
    low=st.integers(0, 400),
    extra=st.integers(0, 400),
)
def test_more_of_a_reverse_indicator_never_raises_wuxi_points(make_frame, wuxi, field, low, extra):
    # wuxi-42's reverse category: penalties, lawsuits, days past due and debt are lower-is-better
    cfg, reference = wuxi
    scale = 100_000.0 if field == "existing_bank_debt" else 1.0
    frame = make_frame([{field: low * scale, "existing_unsecured_debt": 0.0},
                        {field: (low + extra) * scale, "existing_unsecured_debt": 0.0}])  # fmt: skip
    out = PointsScorer(cfg, reference).score(frame)
    assert out["points_cat_reverse"].iloc[1] <= out["points_cat_reverse"].iloc[0]
    assert out["points_total"].iloc[1] <= out["points_total"].iloc[0]
