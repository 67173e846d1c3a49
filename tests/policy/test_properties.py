"""Properties of the limit policy that must hold for any applicant (Hypothesis)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit_points.policy.config import PolicyConfig
from credit_points.policy.decision import apply_policy

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def firms(draw: st.DrawFn) -> dict[str, Any]:
    revenue = draw(st.floats(0, 150e6))
    bank_debt = draw(st.sampled_from([0.0, draw(st.floats(0, 20e6))]))
    vetoed = draw(st.integers(0, 9)) == 0
    return {
        "revenue": revenue,
        "rd_expense": revenue * draw(st.floats(0, 0.2)),
        "tax_paid": draw(st.floats(0, 8e6)),
        "wages_paid": draw(st.floats(0, 20e6)),
        "orders_backlog": draw(st.floats(0, 30e6)),
        "gov_subsidies": draw(st.floats(0, 3e6)),
        "high_level_talent": float(draw(st.integers(0, 8))),
        "employees": float(draw(st.integers(1, 900))),
        "total_assets": draw(st.floats(1e5, 100e6)),
        "total_liabilities": draw(st.floats(0, 80e6)),
        "stage": draw(st.sampled_from(["seed", "sapling", "growth", "expansion", "mature"])),
        "tech_qualification_tier": float(draw(st.integers(0, 4))),
        "srdi": draw(st.sampled_from(["none", "provincial", "national"])),
        "points_total": draw(st.floats(0, 140)),
        "rank_zone": float(draw(st.integers(1, 2000))),
        "existing_bank_debt": bank_debt,
        "existing_unsecured_debt": bank_debt * draw(st.floats(0, 1)),
        "max_overdue_days_24m": float(draw(st.sampled_from([0, 0, 10, 45, 120]))),
        "founded_date": pd.Timestamp("2024-06-30") - pd.Timedelta(days=draw(st.integers(0, 7000))),
        "prob_default": draw(st.floats(0.0003, 0.3)),
        "veto": vetoed,
        "veto_reasons": "tax_grade_d" if vetoed else "",
    }


portfolios = st.lists(firms(), min_size=1, max_size=8)


def _limits(frame: pd.DataFrame, policy: PolicyConfig) -> np.ndarray:
    return apply_policy(frame, policy)["limit"].to_numpy()


@SETTINGS
@given(rows=portfolios)
def test_limit_is_within_cap_and_a_multiple_of_the_unit(
    rows: list[dict[str, Any]], policy: PolicyConfig, frames: ModuleType
) -> None:
    out = apply_policy(frames.make_frame(rows), policy)
    caps = {p.id: p.cap for p in policy.products}
    units = {p.id: p.rounding_unit for p in policy.products}
    for product, limit in zip(out["product"], out["limit"], strict=True):
        assert 0 <= limit <= caps.get(product, 0.0)
        if product:
            assert limit >= policy.decision.min_limit
            assert limit / units[product] == pytest.approx(round(limit / units[product]), abs=1e-9)
    assert ((out["limit"] > 0) == (out["decision"] != "decline")).all()


@SETTINGS
@given(rows=portfolios)
def test_veto_or_pd_above_every_cutoff_declines_with_limit_zero(
    rows: list[dict[str, Any]], policy: PolicyConfig, frames: ModuleType
) -> None:
    frame = frames.make_frame(rows)
    out = apply_policy(frame, policy)
    top_cutoff = max(policy.product_pd_cutoff(p) for p in policy.products)
    blocked = frame["veto"].to_numpy() | (frame["prob_default"].to_numpy() > top_cutoff)
    assert (out.loc[blocked, "limit"] == 0).all()
    assert (out.loc[blocked, "decision"] == "decline").all()


@SETTINGS
@given(rows=portfolios, extra=st.lists(st.floats(0, 60), min_size=8, max_size=8))
def test_more_points_never_lower_the_limit(
    rows: list[dict[str, Any]], extra: list[float], policy: PolicyConfig, frames: ModuleType
) -> None:
    frame = frames.make_frame(rows)
    better = frame.copy()
    better["points_total"] = frame["points_total"] + np.asarray(extra[: len(frame)])
    assert (_limits(better, policy) >= _limits(frame, policy)).all()


@SETTINGS
@given(
    rows=portfolios,
    grow=st.floats(1.0, 5.0),
    more_tax=st.floats(0, 5e6),
    more_orders=st.floats(0, 20e6),
    more_talent=st.integers(0, 5),
)
def test_more_capacity_never_lowers_the_limit(
    rows: list[dict[str, Any]],
    grow: float,
    more_tax: float,
    more_orders: float,
    more_talent: int,
    policy: PolicyConfig,
    frames: ModuleType,
) -> None:
    # all else fixed: R&D intensity kept (R&D grows with revenue) and the firm stays small (< 300 staff)
    frame = frames.make_frame(rows)
    frame["employees"] = np.minimum(frame["employees"], 299.0)
    richer = frame.copy()
    richer["revenue"] = frame["revenue"] * grow
    richer["rd_expense"] = frame["rd_expense"] * grow
    richer["tax_paid"] = frame["tax_paid"] + more_tax
    richer["wages_paid"] = frame["wages_paid"] * grow
    richer["orders_backlog"] = frame["orders_backlog"] + more_orders
    richer["gov_subsidies"] = frame["gov_subsidies"] * grow
    richer["high_level_talent"] = frame["high_level_talent"] + more_talent
    assert (_limits(richer, policy) >= _limits(frame, policy)).all()


@SETTINGS
@given(rows=portfolios, shrink=st.lists(st.floats(0.01, 1.0), min_size=8, max_size=8))
def test_lower_pd_never_lowers_the_limit(
    rows: list[dict[str, Any]], shrink: list[float], policy: PolicyConfig, frames: ModuleType
) -> None:
    frame = frames.make_frame(rows)
    safer = frame.copy()
    safer["prob_default"] = frame["prob_default"] * np.asarray(shrink[: len(frame)])
    safer["grade"] = frames.grade_for(safer["prob_default"])
    assert (_limits(safer, policy) >= _limits(frame, policy)).all()


@SETTINGS
@given(rows=portfolios, seed=st.integers(0, 2**32 - 1))
def test_same_inputs_same_outputs_whatever_the_row_order(
    rows: list[dict[str, Any]], seed: int, policy: PolicyConfig, frames: ModuleType
) -> None:
    frame = frames.make_frame(rows, index=[f"firm{i}" for i in range(len(rows))])
    once = apply_policy(frame, policy)
    pd.testing.assert_frame_equal(apply_policy(frame, policy), once)
    order = np.random.default_rng(seed).permutation(len(frame))
    shuffled = apply_policy(frame.iloc[order], policy)
    pd.testing.assert_frame_equal(shuffled.loc[frame.index], once)
    # and a firm alone gets what it gets in the batch
    alone = apply_policy(frame.iloc[[0]], policy)
    pd.testing.assert_frame_equal(alone, once.iloc[[0]])
