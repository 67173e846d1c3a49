"""Known-answer tests of the policy engine: each expected figure is recomputed here from the config numbers."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from credit_points.exceptions import ConfigError, DataValidationError
from credit_points.policy.config import PolicyConfig
from credit_points.policy.decision import apply_policy, product_offers

CONTRACT_COLUMNS = [
    "product", "capacity", "points_multiplier", "risk_multiplier", "limit_capacity", "limit_after_points",
    "limit_after_risk", "limit_after_headroom", "limit_after_cap", "limit", "binding_constraint", "rate", "ead",
    "lgd", "expected_loss", "expected_loss_net", "decision", "policy_version", "policy_hash",
]  # fmt: skip


def _points_mult(policy: PolicyConfig, product_id: str, points: float) -> float:
    for band in policy.product_points_multipliers(policy.product(product_id)):
        if band.min_points is None or points >= band.min_points:
            return band.multiplier
    return 0.0


def _risk_mult(policy: PolicyConfig, product_id: str, grade: str) -> float:
    return {g.grade: g.multiplier for g in policy.product_risk_multipliers(policy.product(product_id))}[grade]


@pytest.fixture(scope="module")
def make_frame(frames: ModuleType) -> Callable[..., pd.DataFrame]:
    return frames.make_frame  # type: ignore[no-any-return]


def _floor_unit(x: float, unit: float) -> float:
    return math.floor(round(x / unit, 9)) * unit


# A firm only 积分贷 takes: no technology-SME registration (科技贷 out), no SRDI (善新贷 out), rank 900.
JIFEN_ONLY = {"tech_qualification_tier": 0.0}


def test_columns_follow_the_frame_contract(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given a two-firm frame with a non-default index
    frame = make_frame([{}, {}], index=["a", "b"])
    # when
    out = apply_policy(frame, policy)
    # then every contract column is there, per product eligibility too, and the index is kept
    for p in policy.catalogue:
        assert f"eligible_{p}" in out.columns and f"failed_rules_{p}" in out.columns
        assert out[f"eligible_{p}"].dtype == bool
    assert out.columns[-len(CONTRACT_COLUMNS) :].tolist() == CONTRACT_COLUMNS
    assert out.index.tolist() == ["a", "b"]
    assert (out["policy_hash"] == policy.content_hash).all()
    assert (out["policy_version"] == policy.version).all()


def test_jifen_waterfall_matches_hand_computation(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given a growth firm eligible only for 积分贷, with 85 points, PD 1.5% and some unsecured debt
    firm = {**JIFEN_ONLY, "revenue": 12e6, "rd_expense": 0.5e6, "tax_paid": 0.4e6, "points_total": 85.0,
            "prob_default": 0.015, "existing_bank_debt": 1e6, "existing_unsecured_debt": 0.3e6}  # fmt: skip
    out = apply_policy(make_frame([firm]), policy).iloc[0]
    product = policy.product("jifen_dai")
    # when computed by hand: capacity min(30% revenue, 7 x tax), x points band, x grade-5 multiplier, - debt
    capacity = min(0.3 * 12e6, 7 * 0.4e6)
    after_points = capacity * _points_mult(policy, "jifen_dai", 85.0)
    after_risk = after_points * _risk_mult(policy, "jifen_dai", "5")
    after_headroom = max(after_risk - 0.3e6, 0.0)
    after_cap = min(after_headroom, product.cap)
    limit = _floor_unit(after_cap, product.rounding_unit)
    # then
    assert out["product"] == "jifen_dai" and out["decision"] == "approve"
    assert out["limit_capacity"] == pytest.approx(capacity)
    assert out["limit_after_points"] == pytest.approx(after_points)
    assert out["limit_after_risk"] == pytest.approx(after_risk)
    assert out["limit_after_headroom"] == pytest.approx(after_headroom)
    assert out["limit"] == limit
    # points 85 -> 0.80 cuts the most yuan, but the unsecured debt is the last step that lowered the
    # running limit: the headroom set it, so the headroom binds
    assert out["binding_constraint"] == "headroom"


def test_price_and_expected_loss_net_of_risk_compensation(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given the same 积分贷 firm
    firm = {**JIFEN_ONLY, "revenue": 12e6, "rd_expense": 0.5e6, "tax_paid": 0.4e6, "points_total": 85.0,
            "prob_default": 0.015}  # fmt: skip
    out = apply_policy(make_frame([firm]), policy).iloc[0]
    product = policy.product("jifen_dai")
    scheme = policy.product_scheme(product)
    # when computed by hand
    ead = out["limit"] * policy.exposure.term_ccf
    lgd = policy.exposure.lgd
    share = scheme.loss_share + scheme.pure_credit_extra_share
    compensation = min(share * lgd * ead, scheme.max_compensation_per_loan)
    el_net = 0.015 * (lgd * ead - compensation)
    spread = (
        el_net / ead
        + policy.pricing.capital_spread
        + policy.pricing.cost_spread
        - product.pricing.interest_subsidy
    )
    rate = min(policy.pricing.lpr_1y + spread, policy.pricing.lpr_1y + product.pricing.ceiling_over_lpr)
    # then
    assert out["ead"] == pytest.approx(ead)
    assert out["lgd"] == lgd
    assert out["expected_loss"] == pytest.approx(0.015 * lgd * ead)
    assert out["expected_loss_net"] == pytest.approx(el_net)
    assert out["rate"] == pytest.approx(round(rate, policy.pricing.rate_decimals), abs=1e-12)


def test_rate_ceiling_binds_only_when_the_spread_is_large(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given two 积分贷 firms: a very safe one (grade 1) and one in the refer band (PD 6%)
    frame = make_frame([{**JIFEN_ONLY, "prob_default": 0.0005}, {**JIFEN_ONLY, "prob_default": 0.06}])
    out = apply_policy(frame, policy)
    lpr = policy.pricing.lpr_1y
    ceiling = lpr + policy.product("jifen_dai").pricing.ceiling_over_lpr
    # then the safe firm pays less than the ceiling, the risky one exactly the ceiling
    assert out["rate"].iloc[0] < ceiling
    assert out["rate"].iloc[1] == pytest.approx(ceiling)
    assert out["decision"].tolist() == ["approve", "refer"]


def test_compensation_cap_limits_what_the_pool_pays(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given a 积分贷 loan at the product cap, so share x LGD x EAD exceeds the pool's per-loan cap
    firm = {**JIFEN_ONLY, "revenue": 100e6, "rd_expense": 5e6, "tax_paid": 5e6, "points_total": 120.0,
            "prob_default": 0.0008}  # fmt: skip
    out = apply_policy(make_frame([firm]), policy).iloc[0]
    scheme = policy.product_scheme(policy.product("jifen_dai"))
    lgd_amount = policy.exposure.lgd * out["ead"]
    # then the cap binds and the pool pays at most max_compensation_per_loan
    assert out["limit"] == policy.product("jifen_dai").cap and out["binding_constraint"] == "cap"
    assert (
        scheme.loss_share + scheme.pure_credit_extra_share
    ) * lgd_amount > scheme.max_compensation_per_loan
    assert out["expected_loss_net"] == pytest.approx(0.0008 * (lgd_amount - scheme.max_compensation_per_loan))


def test_revolving_line_exposure_uses_the_conversion_factor(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given an SRDI small firm with low points: 善新贷 is the only product (points 50, tier 0)
    firm = {"tech_qualification_tier": 0.0, "srdi": "provincial", "points_total": 50.0}
    out = apply_policy(make_frame([firm]), policy).iloc[0]
    # then
    assert out["product"] == "shanxin_dai"
    assert out["ead"] == pytest.approx(out["limit"] * policy.exposure.revolving_ccf)
    expected = _floor_unit(
        min(0.3 * 10e6, 7 * 0.5e6)
        * _points_mult(policy, "shanxin_dai", 50.0)
        * _risk_mult(policy, "shanxin_dai", "5"),
        policy.product("shanxin_dai").rounding_unit,
    )
    assert out["limit"] == expected


def test_veto_declines_with_limit_zero(policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]) -> None:
    # given a strong firm that is vetoed
    out = apply_policy(
        make_frame([{"veto": True, "veto_reasons": "tax_grade_d", "points_total": 125.0}]), policy
    )
    row = out.iloc[0]
    # then
    assert row["decision"] == "decline" and row["limit"] == 0 and row["product"] == ""
    assert row["binding_constraint"] == "veto"
    assert all(row[f"failed_rules_{p}"].split(";")[0] == "no_veto" for p in policy.catalogue)
    assert np.isnan(row["rate"]) and row["expected_loss"] == 0


def test_pd_above_every_cutoff_declines(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given a firm above the highest product cut-off
    top = max(policy.product_pd_cutoff(p) for p in policy.products)
    row = apply_policy(make_frame([{"prob_default": top + 0.01}]), policy).iloc[0]
    # then
    assert row["decision"] == "decline" and row["limit"] == 0 and row["binding_constraint"] == "pd_cutoff"
    assert row["failed_rules_jifen_dai"].endswith("pd_cutoff")


def test_pd_between_cutoffs_keeps_the_looser_product(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given PD 7%: above 科技贷's 6% cut-off, below 积分贷's 8%
    row = apply_policy(make_frame([{"prob_default": 0.07}]), policy).iloc[0]
    # then 科技贷 fails on the cut-off, 积分贷 is offered, and the band sends it to review
    assert row["failed_rules_keji_dai"] == "pd_cutoff"
    assert row["product"] == "jifen_dai" and row["decision"] == "refer"


def test_refer_rule_sends_an_offer_to_review(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given a safe firm with a 45-day late payment
    row = apply_policy(make_frame([{"max_overdue_days_24m": 45.0, "prob_default": 0.003}]), policy).iloc[0]
    # then it keeps its limit but is referred
    assert row["limit"] > 0 and row["decision"] == "refer"


def test_seed_floor_lifts_capacity(policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]) -> None:
    # given a seed firm with tiny revenue and tax, eligible for 积分贷 only
    firm = {**JIFEN_ONLY, "stage": "seed", "revenue": 300_000.0, "rd_expense": 60_000.0, "tax_paid": 2_000.0,
            "wages_paid": 200_000.0, "prob_default": 0.008}  # fmt: skip
    row = apply_policy(make_frame([firm]), policy).iloc[0]
    floor = policy.product("jifen_dai").floor
    # then capacity is the floor, not min(30% revenue, 7 x tax) = 14,000
    assert "seed" in floor.stages
    assert row["limit_capacity"] == floor.amount
    assert row["limit"] == _floor_unit(floor.amount * _risk_mult(policy, "jifen_dai", "4"), 10_000)


def test_small_limit_below_minimum_is_declined(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given a growth firm whose capacity is 7 x 10,000 yuan tax
    row = apply_policy(make_frame([{**JIFEN_ONLY, "tax_paid": 10_000.0}]), policy).iloc[0]
    # then 70,000 x 0.85 rounds to 50,000 < the minimum offer
    assert policy.decision.min_limit > 50_000
    assert row["decision"] == "decline" and row["limit"] == 0 and row["binding_constraint"] == "min_limit"


def test_headroom_and_renewal(policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]) -> None:
    # given a top-500 firm whose unsecured debt eats the new-money limits, with a loan falling due
    firm = {"rank_zone": 120.0, "existing_bank_debt": 4e6, "existing_unsecured_debt": 4e6}
    offers = product_offers(make_frame([firm]), policy).set_index("product")
    row = apply_policy(make_frame([firm]), policy).iloc[0]
    # then 科技贷 is cut to 0 by headroom while the renewal (no headroom) renews 4,000,000 x 0.85
    assert offers.loc["keji_dai", "limit"] == 0 and offers.loc["keji_dai", "binding_constraint"] == "headroom"
    assert row["product"] == "renewal_without_principal"
    assert row["limit"] == _floor_unit(4e6 * _risk_mult(policy, "renewal_without_principal", "5"), 10_000)


def test_product_choice_rules(policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]) -> None:
    # given a firm both 科技贷 and 积分贷 take, 科技贷 with the larger limit
    frame = make_frame([{}])
    by_limit = apply_policy(frame, policy).iloc[0]
    offers = product_offers(frame, policy).set_index("product")
    # when the policy recommends by catalogue priority instead
    by_priority = apply_policy(frame, policy.model_copy(update={"product_choice": "priority"})).iloc[0]
    # then max_limit takes the largest offer and priority the first offered product in the catalogue
    assert by_limit["limit"] == offers["limit"].max()
    first = next(p for p in policy.catalogue if offers.loc[p, "limit"] > 0)
    assert by_priority["product"] == first


def test_product_offers_long_form_agrees_with_apply_policy(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    # given three firms
    frame = make_frame([{}, {**JIFEN_ONLY}, {"veto": True, "veto_reasons": "pboc_npl"}], index=[10, 11, 12])
    offers = product_offers(frame, policy)
    out = apply_policy(frame, policy)
    # then one row per firm and product, and the recommended rows carry apply_policy's limits
    assert len(offers) == 3 * len(policy.products)
    rec = offers[offers["recommended"]].set_index("row")
    assert rec["limit"].to_dict() == out.loc[out["product"] != "", "limit"].to_dict()
    assert (offers.loc[offers["row"] == 12, "binding_constraint"] == "veto").all()


def test_missing_column_is_named(policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]) -> None:
    frame = make_frame([{}]).drop(columns=["grade"])
    with pytest.raises(DataValidationError, match="grade"):
        apply_policy(frame, policy)


def test_unknown_grade_is_named(policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]) -> None:
    frame = make_frame([{"grade": "AAA"}])
    with pytest.raises(DataValidationError, match="grade") as info:
        apply_policy(frame, policy)
    assert info.value.value == "AAA"


def test_pd_outside_unit_interval_is_rejected(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    frame = make_frame([{"prob_default": 1.5, "grade": "9"}])
    with pytest.raises(DataValidationError, match="prob_default"):
        apply_policy(frame, policy)


def test_missing_pd_declines_rather_than_guessing(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    frame = make_frame([{"prob_default": np.nan}])
    row = apply_policy(frame, policy).iloc[0]
    assert row["decision"] == "decline" and row["limit"] == 0


def test_policy_without_embedded_products_is_refused(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]
) -> None:
    bare = policy.model_copy(update={"products": ()})
    with pytest.raises(ConfigError, match="load_policy"):
        apply_policy(make_frame([{}]), bare)


def test_empty_frame(policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]) -> None:
    out = apply_policy(make_frame([{}]).iloc[:0], policy)
    assert len(out) == 0 and "limit" in out.columns


def test_nullable_dtypes_are_accepted(policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame]) -> None:
    # given the same firm with pandas nullable dtypes (as Parquet readers give)
    frame = make_frame([{}, {"max_overdue_days_24m": np.nan}])
    nullable = frame.astype({"max_overdue_days_24m": "Float64", "veto": "boolean", "rank_zone": "Int64"})
    # then the decisions are the same
    pd.testing.assert_frame_equal(apply_policy(nullable, policy), apply_policy(frame, policy))


@pytest.mark.parametrize(
    ("firm", "binding"),
    [
        # revenue far above what the cap allows: the cap is the last step that lowered the limit
        ({"revenue": 400e6, "tax_paid": 30e6, "points_total": 95.0, "prob_default": 0.004}, "cap"),
        # unsecured debt eats into the limit after every multiplier: the headroom binds
        ({"revenue": 12e6, "tax_paid": 0.4e6, "points_total": 95.0, "prob_default": 0.004,
          "existing_bank_debt": 2e6, "existing_unsecured_debt": 1e6}, "headroom"),
        # a top points tier raises the limit (multiplier above 1) and nothing lowers it: capacity binds
        ({"revenue": 5e6, "tax_paid": 0.1e6, "points_total": 112.0, "prob_default": 0.001,
          "existing_unsecured_debt": 0.0}, "capacity"),
    ],
)  # fmt: skip
def test_the_binding_step_is_the_last_step_that_lowered_the_limit(
    policy: PolicyConfig, make_frame: Callable[..., pd.DataFrame], firm: dict, binding: str
) -> None:
    out = apply_policy(
        make_frame([{**JIFEN_ONLY, "rd_expense": 0.1 * firm["revenue"], **firm}]), policy
    ).iloc[0]
    steps = [out[c] for c in ("limit_capacity", "limit_after_points", "limit_after_risk",
                              "limit_after_headroom", "limit_after_cap")]  # fmt: skip
    assert out["limit"] > 0, out.to_dict()
    assert out["binding_constraint"] == binding, steps
