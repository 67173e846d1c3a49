"""Properties of reason codes for any applicant (Hypothesis): adverse-only, one to four, known codes, stable."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit_points.explain.config import ReasonCodesConfig
from credit_points.explain.reasons import adverse_outcome, reason_codes
from credit_points.policy.config import PolicyConfig
from credit_points.policy.decision import apply_policy

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
VETOES = ["", "", "", "tax_grade_d", "pboc_npl;serious_dishonesty"]


@st.composite
def firms(draw: st.DrawFn, features: tuple[str, ...]) -> dict[str, Any]:
    veto_reasons = draw(st.sampled_from(VETOES))
    revenue = draw(st.floats(1e5, 80e6))
    row: dict[str, Any] = {
        "revenue": revenue,
        "rd_expense": revenue * draw(st.floats(0, 0.15)),
        "tax_paid": draw(st.floats(0, 3e6)),
        "points_total": draw(st.floats(20, 130)),
        "tech_qualification_tier": float(draw(st.integers(0, 4))),
        "existing_bank_debt": draw(st.sampled_from([0.0, 2e6])),
        "max_overdue_days_24m": float(draw(st.sampled_from([0, 0, 45]))),
        "prob_default": draw(st.floats(0.0003, 0.25)),
        "veto": bool(veto_reasons),
        "veto_reasons": veto_reasons,
        "deduction_admin_penalties": float(draw(st.sampled_from([0, 0, 5, 10]))),
        "deduction_tax_grade_m": float(draw(st.sampled_from([0, 3]))),
    }
    row["existing_unsecured_debt"] = row["existing_bank_debt"] * draw(st.floats(0, 1))
    values = draw(st.lists(st.floats(-1, 1), min_size=len(features), max_size=len(features)))
    row.update({f"contrib_{f}": v for f, v in zip(features, values, strict=True)})
    return row


@SETTINGS
@given(data=st.data())
def test_codes_only_on_adverse_outcomes_one_to_four_known_and_stable(
    data: st.DataObject, frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    features = tuple(codes.feature_family)
    rows = data.draw(st.lists(firms(features), min_size=1, max_size=8))
    frame = frames.make_frame(rows)
    decisions = apply_policy(frame, policy)
    out = reason_codes(frame, policy, codes)["reason_codes"]
    adverse = adverse_outcome(decisions, policy)
    counts = np.array([len(s.split(";")) if s else 0 for s in out])
    # one to four on adverse outcomes, none otherwise, every code in the table, no repeats
    assert ((counts >= 1) & (counts <= 4) == adverse).all()
    listed = [c for s in out for c in s.split(";") if c]
    assert set(listed) <= set(codes.by_code)
    assert all(len(set(s.split(";"))) == len(s.split(";")) for s in out if s)
    # vetoes lead whenever there is one
    for s, vetoed in zip(out, frame["veto"], strict=True):
        if vetoed:
            assert codes.by_code[s.split(";")[0]][0] == "veto"
    # the same codes in reverse row order
    reverse = reason_codes(frame.iloc[::-1], policy, codes)["reason_codes"]
    pd.testing.assert_series_equal(reverse.loc[frame.index], out)
