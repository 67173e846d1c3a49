"""Reason codes: only on adverse outcomes, one to four, in a fixed order, each with zh and en text."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from credit_points.config import CONFIG_DIR, validate_mapping
from credit_points.exceptions import ConfigError, DataValidationError
from credit_points.explain.config import ReasonCodesConfig
from credit_points.explain.reasons import (
    adverse_outcome,
    group_contributions,
    reason_codes,
    reason_table,
    reason_text,
)
from credit_points.policy.config import PolicyConfig
from credit_points.policy.decision import apply_policy

# 科技贷 off (no tech-SME registration), so 积分贷 is the product in play
JIFEN_ONLY = {"tech_qualification_tier": 0.0}
# contributions in calibrated log-odds: leverage +0.5 (0.3 + 0.2), scale +0.2, points -0.4, conduct +0.05
CONTRIBS = {
    "contrib_debt_to_assets_ratio": 0.3,
    "contrib_bank_debt_to_revenue_ratio": 0.2,
    "contrib_log_revenue": 0.2,
    "contrib_points_total": -0.4,
    "contrib_admin_penalties_2y": 0.05,
    "contrib_base": -3.5,
}


def _code(codes: ReasonCodesConfig, source: str, reason_id: str) -> str:
    items = {"trigger": codes.triggers, "veto": codes.vetoes, "rule": codes.rules, "limit_step": codes.limit_steps, "deduction": codes.deductions,
             "family": codes.families}[source]  # fmt: skip
    return next(i.code for i in items if i.id == reason_id)


def _reasons(
    frames: ModuleType, rows: list[dict[str, Any]], policy: PolicyConfig, codes: ReasonCodesConfig
) -> list[str]:
    return reason_codes(frames.make_frame(rows), policy, codes)["reason_codes"].tolist()


def test_favourable_outcome_has_no_reason(
    frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    # given a safe firm approved at its full capacity (grade 3, multiplier 1.0, points 104 -> 1.0)
    out = reason_codes(frames.make_frame([{"prob_default": 0.004, **CONTRIBS}]), policy, codes)
    assert out["reason_codes"].tolist() == [""]
    assert out["reason_codes_version"].tolist() == [codes.version]


def test_veto_comes_first_then_model_families_by_size(
    frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    # given a vetoed firm with contributions
    rows = [{"veto": True, "veto_reasons": "tax_grade_d;pboc_npl", **CONTRIBS}]
    # then both vetoes (by code), then leverage (0.5) before scale (0.2): four codes at most
    expected = sorted([_code(codes, "veto", "tax_grade_d"), _code(codes, "veto", "pboc_npl")])
    expected += [_code(codes, "family", "leverage"), _code(codes, "family", "scale")]
    assert _reasons(frames, rows, policy, codes) == [";".join(expected)]


def test_decline_names_the_nearest_products_failed_rules(
    frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    # given a firm failing only R&D intensity (1.5%) and firm age (1 year) for 积分贷 and 科技贷
    rows = [{"rd_expense": 150_000.0, "founded_date": pd.Timestamp("2023-06-30"), **CONTRIBS}]
    out = apply_policy(frames.make_frame(rows), policy).iloc[0]
    assert out["decision"] == "decline"
    assert out["failed_rules_jifen_dai"] == "rd_intensity_min;firm_age_min"
    # then the rules come first (by code), then the model families
    expected = sorted([_code(codes, "rule", "rd_intensity_min"), _code(codes, "rule", "firm_age_min")])
    expected += [_code(codes, "family", "leverage"), _code(codes, "family", "scale")]
    assert _reasons(frames, rows, policy, codes) == [";".join(expected)]


def test_pd_cutoff_names_its_trigger_then_the_model_families(
    frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    # given a firm declined on PD alone
    rows = [{"prob_default": 0.2, **CONTRIBS}]
    # then the cut-off trigger first, then why the PD is high: leverage, scale, conduct (by size)
    expected = [
        _code(codes, "trigger", "pd_cutoff"),
        *(_code(codes, "family", f) for f in ("leverage", "scale", "conduct")),
    ]
    assert _reasons(frames, rows, policy, codes) == [";".join(expected)]


def test_refer_rule_and_deductions(
    frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    # given a safe firm with a 45-day late payment and two deductions (5 and 10 points)
    rows = [{"prob_default": 0.004, "max_overdue_days_24m": 45.0, "deduction_credit_abnormal": 5.0,
             "deduction_abnormal_operation": 10.0, **CONTRIBS}]  # fmt: skip
    # then refer rule first, deductions largest first, then the largest family
    expected = [
        _code(codes, "rule", "recent_overdue"),
        _code(codes, "deduction", "abnormal_operation"),
        _code(codes, "deduction", "credit_abnormal"),
        _code(codes, "family", "leverage"),
    ]
    assert _reasons(frames, rows, policy, codes) == [";".join(expected)]


def test_reduced_limit_is_adverse(frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig) -> None:
    # given approvals cut by the points tier (85 points -> 0.80) and by existing unsecured debt
    rows = [
        {**JIFEN_ONLY, "prob_default": 0.004, "points_total": 85.0, **CONTRIBS},
        {
            **JIFEN_ONLY,
            "prob_default": 0.004,
            "existing_bank_debt": 1e6,
            "existing_unsecured_debt": 1e6,
            **CONTRIBS,
        },
    ]
    decisions = apply_policy(frames.make_frame(rows), policy)
    assert decisions["decision"].tolist() == ["approve", "approve"]
    assert adverse_outcome(decisions, policy).tolist() == [True, True]
    # then the step that cut the limit leads, then the model families
    points, headroom = _code(codes, "limit_step", "points_multiplier"), _code(codes, "limit_step", "headroom")
    leverage, scale, conduct = (_code(codes, "family", f) for f in ("leverage", "scale", "conduct"))
    assert _reasons(frames, rows, policy, codes) == [
        f"{points};{leverage};{scale};{conduct}",
        f"{headroom};{leverage};{scale};{conduct}",
    ]


def test_ties_are_broken_by_code(frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig) -> None:
    # given two deductions of equal size on a firm referred for its PD, with one family raising the PD
    rows = [{"prob_default": 0.05, "deduction_tax_grade_m": 3.0, "deduction_defendant_lawsuits": 3.0,
             "contrib_log_revenue": 0.1}]  # fmt: skip
    tied = sorted([_code(codes, "deduction", "tax_grade_m"), _code(codes, "deduction", "defendant_lawsuits")])
    # then the refer-band trigger, the family that says why the PD is high, then the tied deductions by code
    trigger, scale = _code(codes, "trigger", "pd_refer_band"), _code(codes, "family", "scale")
    assert _reasons(frames, rows, policy, codes) == [";".join([trigger, scale, *tied])]


def test_max_codes_and_determinism(
    frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    # given many possible reasons on several firms
    base = {"veto": True, "veto_reasons": "tax_grade_d;pboc_npl;licence_revoked", **CONTRIBS}
    rows = [
        base,
        {**base, "veto_reasons": "serious_dishonesty"},
        {"prob_default": 0.004},
        {"prob_default": 0.3, **CONTRIBS},
    ]
    frame = frames.make_frame(rows, index=["a", "b", "c", "d"])
    out = reason_codes(frame, policy, codes, max_codes=2)["reason_codes"]
    assert [len(s.split(";")) if s else 0 for s in out] == [2, 2, 0, 2]
    full = reason_codes(frame, policy, codes)["reason_codes"]
    assert all(1 <= len(s.split(";")) <= 4 for s in full[["a", "b", "d"]])
    # and the same codes whatever the row order, with or without precomputed decisions
    shuffled = reason_codes(frame.iloc[[3, 1, 0, 2]], policy, codes)["reason_codes"]
    pd.testing.assert_series_equal(shuffled.loc[frame.index], full)
    joined = frame.join(apply_policy(frame, policy))
    pd.testing.assert_series_equal(reason_codes(joined, policy, codes)["reason_codes"], full)


def test_adverse_row_without_contributions_is_an_error(
    frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    # given a referral on PD alone, with no model contributions computed
    frame = frames.make_frame([{"prob_default": 0.05}], index=["firm-7"])
    with pytest.raises(DataValidationError, match="contributions") as info:
        reason_codes(frame, policy, codes)
    assert info.value.value == "firm-7"


def test_unmapped_ids_and_features_are_named(
    frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    with pytest.raises(DataValidationError, match="no_such_veto"):
        reason_codes(frames.make_frame([{"veto": True, "veto_reasons": "no_such_veto"}]), policy, codes)
    with pytest.raises(DataValidationError, match="contrib_mystery"):
        reason_codes(frames.make_frame([{"prob_default": 0.3, "contrib_mystery": 1.0}]), policy, codes)
    with pytest.raises(DataValidationError, match="deduction_new_rule"):
        reason_codes(frames.make_frame([{"prob_default": 0.3, "deduction_new_rule": 2.0}]), policy, codes)


def test_group_contributions_sums_per_family(codes: ReasonCodesConfig) -> None:
    # given random contributions for every mapped feature, plus a row not computed
    features = list(codes.feature_family)
    values = np.random.default_rng(3).normal(size=(4, len(features)))
    values[2] = np.nan
    frame = pd.DataFrame(values, columns=[f"contrib_{f}" for f in features])
    frame["contrib_base"] = -3.0
    # when
    families = group_contributions(frame, codes)
    # then each family is the sum of its features, computed here with pandas groupby
    by_family = pd.DataFrame(values, columns=features).T.groupby(codes.feature_family).sum(min_count=1).T
    pd.testing.assert_frame_equal(families[by_family.columns], by_family, check_names=False)
    assert families.iloc[2].isna().all()
    # and base + the family sums equals base + the feature sums (additivity survives the grouping)
    np.testing.assert_allclose(
        families.iloc[[0, 1, 3]].sum(axis=1), np.nansum(values[[0, 1, 3]], axis=1), atol=1e-12
    )


def test_texts(codes: ReasonCodesConfig) -> None:
    column = pd.Series(["V04;M03", "", "P02"], index=[5, 6, 7])
    zh = reason_text(column, codes, "zh")
    assert zh[5] == f"{codes.text('V04', 'zh')}；{codes.text('M03', 'zh')}" and zh[6] == ""
    table = reason_table(column, codes)
    assert table["row"].tolist() == [5, 5, 7] and table["rank"].tolist() == [1, 2, 1]
    assert table["source"].tolist() == ["veto", "family", "rule"]
    assert table["text_en"].iloc[2] == codes.text("P02", "en")
    assert all(entry.text_zh and entry.text_en for entry in codes.entries())


def test_table_covers_the_shipped_policy_points_and_pd_configs(
    policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    # given the shipped points profile and PD feature list, read as plain YAML
    points = yaml.safe_load((CONFIG_DIR / "points" / "torch-18.yaml").read_text(encoding="utf-8"))
    pd_config = yaml.safe_load((CONFIG_DIR / "pd_model" / "default.yaml").read_text(encoding="utf-8"))
    features = [f["name"] for f in pd_config["features"]]
    # then every id and feature has a code, and each feature's family is the PD config's reason family
    assert (
        codes.missing(
            veto_ids=[v["id"] for v in points["vetoes"]],
            rule_ids=policy.rule_ids(),
            deduction_ids=[d["id"] for d in points["deductions"]["items"]],
            features=features,
        )
        == {}
    )
    assert {f["name"]: f["reason_family"] for f in pd_config["features"]} == {
        f: codes.feature_family[f] for f in features
    }


def test_a_feature_in_two_families_is_rejected(codes: ReasonCodesConfig) -> None:
    data = codes.model_dump(mode="json")
    data["families"][1]["features"].append(data["families"][0]["features"][0])
    with pytest.raises(ConfigError, match="exactly one"):
        validate_mapping(data, ReasonCodesConfig)
    data = codes.model_dump(mode="json")
    data["rules"][1]["code"] = data["rules"][0]["code"]
    with pytest.raises(ConfigError, match="used twice"):
        validate_mapping(data, ReasonCodesConfig)


def test_model_only_outcome_with_no_adverse_family_names_the_least_favourable(
    frames: ModuleType, policy: PolicyConfig, codes: ReasonCodesConfig
) -> None:
    # given a PD-only referral where every family lowered the PD (the base rate itself is high)
    rows = [{"prob_default": 0.05, "contrib_log_revenue": -0.1, "contrib_debt_to_assets_ratio": -0.3}]
    # then the trigger is followed by the family that lowered it least (scale, -0.1): never a bare trigger
    expected = [_code(codes, "trigger", "pd_refer_band"), _code(codes, "family", "scale")]
    assert _reasons(frames, rows, policy, codes) == [";".join(expected)]
