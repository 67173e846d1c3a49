"""Scoring: output contract, stages, invariances, caps, vetoes, ranks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_points.exceptions import DataValidationError
from credit_points.points.scorer import PointsScorer, build_reference, score_points


def test_output_has_the_contract_columns_and_the_input_index(panel, torch18, reference):
    # given a batch with a non-default index
    frame = panel.head(50).set_axis(pd.Index([f"r{k}" for k in range(50)], name="app"))
    # when it is scored
    out = score_points(frame, torch18, reference)
    # then the index is kept and the columns are exactly the contract
    assert out.index.equals(frame.index)
    expected = {"stage", "points_total", "points_core", "points_bonus", "points_deductions", "veto", "veto_reasons",
                "rank_zone", "rank_stage", "points_config_version", "points_config_hash"}  # fmt: skip
    expected |= {f"points_cat_{c}" for c in ("tech", "growth", "aux")}
    for ind in torch18.indicator_ids:
        expected |= {f"ind_{ind}_value", f"ind_{ind}_pct", f"ind_{ind}_points"}
    expected |= {f"bonus_{it.id}" for it in torch18.bonus.items}
    expected |= {f"deduction_{it.id}" for it in torch18.deductions.items}
    assert set(out.columns) == expected
    assert len(out.columns) == len(expected)
    assert out["veto"].dtype == bool
    assert out["stage"].dtype == "str"
    assert (out["points_config_hash"] == torch18.content_hash).all()
    assert (out["points_config_version"] == torch18.version).all()


def test_small_and_large_frames_get_the_same_dtypes_and_values(panel, torch18, reference):
    # given the same firms scored as many small batches and as one large batch (two construction paths)
    frame = panel.head(300)
    big = score_points(frame, torch18, reference)
    small = pd.concat([score_points(frame.iloc[k : k + 10], torch18, reference) for k in range(0, 300, 10)])
    # then dtypes and per-firm numbers agree exactly (ranks are per batch and are left out)
    per_firm = [c for c in big.columns if not c.startswith("rank_")]
    assert big.dtypes.equals(small.dtypes)
    pd.testing.assert_frame_equal(big[per_firm], small[per_firm], check_exact=True)


@pytest.mark.parametrize("k", range(4))
def test_stage_boundaries_are_lower_bound_inclusive(make_frame, torch18, reference, k):
    # given firms one cent below and exactly at each configured cut-off
    cut = torch18.stages[k + 1].min
    frame = make_frame([{"revenue": cut - 0.01}, {"revenue": cut}])
    # when scored
    out = score_points(frame, torch18, reference)
    # then the lower one is in the stage below and the cut-off itself in the stage above
    assert out["stage"].tolist() == [torch18.stages[k].id, torch18.stages[k + 1].id]


def test_the_five_million_boundary(make_frame, torch18, reference):
    frame = make_frame([{"revenue": 4_999_999.99}, {"revenue": 5_000_000.0}])
    assert score_points(frame, torch18, reference)["stage"].tolist() == ["sapling", "growth"]


def test_stage_field_and_cut_offs_come_from_config(make_frame, torch18, reference):
    # given a profile whose growth stage starts at 6 M instead of 5 M
    data = torch18.model_dump()
    data["stages"][1]["max"] = 6_000_000.0
    data["stages"][2]["min"] = 6_000_000.0
    moved = type(torch18).model_validate(data)
    frame = make_frame([{"revenue": 5_500_000.0}])
    # then 5.5 M is sapling there and growth in the default profile
    assert score_points(frame, moved)["stage"].iloc[0] == "sapling"
    assert score_points(frame, torch18, reference)["stage"].iloc[0] == "growth"


def test_row_order_name_and_firm_id_do_not_change_points(panel, torch18, reference, rng):
    frame = panel.head(200)
    base = score_points(frame, torch18, reference)
    # when rows are shuffled and names and ids replaced
    shuffled = frame.iloc[rng.permutation(len(frame))].copy()
    shuffled["name"] = "另一家公司"
    shuffled["firm_id"] = shuffled["firm_id"].iloc[::-1].to_numpy()
    other = score_points(shuffled, torch18, reference).loc[base.index]
    # then every per-firm number is identical (ranks included: same population)
    pd.testing.assert_frame_equal(base, other, check_exact=True)


def test_a_firm_alone_gets_exactly_its_points_in_the_batch(panel, torch18, reference):
    frame = panel.head(120)
    batch = score_points(frame, torch18, reference)
    scorer = PointsScorer(torch18, reference)
    alone = pd.concat([scorer.score(frame.iloc[[k]]) for k in range(0, 120, 7)])
    cols = [c for c in batch.columns if not c.startswith("rank_")]
    pd.testing.assert_frame_equal(alone[cols], batch.loc[alone.index, cols], check_exact=True)


def test_without_reference_the_batch_is_its_own_reference(panel, torch18):
    frame = panel.head(400)
    own = score_points(frame, torch18)
    explicit = score_points(frame, torch18, build_reference(frame, torch18))
    pd.testing.assert_frame_equal(own, explicit, check_exact=True)


def test_caps_hold_for_extreme_firms(make_frame, torch18, reference):
    # given firms with every bonus and every deduction many times over
    rich = {"national_st_awards": 3.0, "tech_qualification_tier": 4.0, "standards_led": 50.0, "pct_filings": 40.0,
            "high_level_talent": 30.0, "tax_credit_grade": "A", "capital_market": True}  # fmt: skip
    poor = {"credit_status": "ordinary_dishonest", "admin_penalties_2y": 20.0, "abnormal_operation_list": True,
            "defendant_lawsuits_1y": 9.0, "tax_credit_grade": "M", "rd_expense": 0.0, "rd_staff": 0.0,
            "invention_patents_valid": 0.0, "ip_filings_3y": 0.0, "revenue_prev": 20_000_000.0,
            "gov_st_projects": 0.0, "rd_platform_tier": 0.0, "tech_qualification_tier": 0.0}  # fmt: skip
    out = score_points(make_frame([rich, poor]), torch18, reference)
    # then the group caps bind and the total is floored at zero
    assert out["points_bonus"].tolist()[0] == torch18.bonus.cap
    assert out["points_deductions"].tolist()[1] == torch18.deductions.cap
    assert out["bonus_standards_led"].iloc[0] == 6.0  # item cap
    assert out["deduction_admin_penalties"].iloc[1] == 15.0
    assert (out["points_total"] >= 0).all()
    raw_bonus = out[[f"bonus_{it.id}" for it in torch18.bonus.items]].sum(axis=1)
    assert raw_bonus.iloc[0] > torch18.bonus.cap  # the cap did something
    expected_total = np.maximum(0.0, out["points_core"] + out["points_bonus"] - out["points_deductions"])
    np.testing.assert_allclose(out["points_total"], expected_total, rtol=0, atol=1e-12)


def test_core_points_add_up_and_stay_within_scale(panel, torch18, reference):
    out = score_points(panel, torch18, reference)
    cats = out[[f"points_cat_{c}" for c in torch18.category_ids]].sum(axis=1)
    inds = out[[f"ind_{i}_points" for i in torch18.indicator_ids]].sum(axis=1)
    np.testing.assert_allclose(out["points_core"], cats, atol=1e-9)
    np.testing.assert_allclose(out["points_core"], inds, atol=1e-9)
    assert out["points_core"].between(0, torch18.scale).all()
    assert out["points_bonus"].between(0, torch18.bonus.cap).all()
    assert out["points_deductions"].between(0, torch18.deductions.cap).all()


@pytest.mark.parametrize(
    ("overrides", "reasons"),
    [
        ({"credit_status": "serious_dishonest"}, "serious_dishonesty"),
        ({"registration_status": "revoked"}, "licence_revoked"),
        ({"registration_status": "liquidation"}, "licence_revoked"),
        ({"pboc_special_mention_or_npl": True}, "pboc_npl"),
        ({"tax_credit_grade": "D"}, "tax_grade_d"),
        ({"tax_credit_grade": "D", "registration_status": "suspended"}, "licence_revoked;tax_grade_d"),
        ({}, ""),
    ],
)
def test_vetoes_flag_the_firm_and_name_the_reasons(make_frame, torch18, reference, overrides, reasons):
    out = score_points(make_frame([overrides]), torch18, reference)
    assert out["veto"].iloc[0] == bool(reasons)
    assert out["veto_reasons"].iloc[0] == reasons


def test_a_vetoed_firm_ranks_after_every_eligible_firm(make_frame, torch18, reference, panel):
    # given a star firm that is vetoed and a weak eligible one, in a zone the reference population knows
    zone = str(panel["zone"].iloc[0])
    star = {
        "zone": zone,
        "invention_patents_valid": 50.0,
        "rd_expense": 3_000_000.0,
        "pboc_special_mention_or_npl": True,
    }
    weak = {"zone": zone, "invention_patents_valid": 0.0, "rd_expense": 0.0}
    out = score_points(make_frame([star, weak]), torch18, reference)
    assert out["points_total"].iloc[0] > out["points_total"].iloc[1]
    n_eligible = reference.ranking["zone"][zone]["n"]
    assert out["rank_zone"].iloc[0] == n_eligible + 1
    assert out["rank_zone"].iloc[1] <= n_eligible


def test_ranks_match_an_independent_pandas_ranking_within_the_reference_population(panel, torch18, reference):
    # given the panel scored against its own reference: every firm's rank is its place in that population
    out = score_points(panel, torch18, reference)
    key = out["points_total"] - np.where(out["veto"], 1e6, 0.0)
    zone = panel["zone"]
    expected_zone = key.groupby(zone).rank(method="min", ascending=False)
    expected_stage = key.groupby([zone, out["stage"]]).rank(method="min", ascending=False)
    eligible = ~out["veto"]
    assert (out["rank_zone"][eligible] == expected_zone[eligible]).all()
    assert (out["rank_stage"][eligible] == expected_stage[eligible]).all()
    # vetoed firms come after every eligible firm of their zone
    n_zone = (~out["veto"]).groupby(zone).sum()
    assert (out["rank_zone"][~eligible] == zone[~eligible].map(n_zone + 1)).all()


def test_a_firm_alone_gets_the_rank_it_has_in_the_population(panel, torch18, reference):
    # given one firm of the population scored alone and inside the whole batch
    whole = score_points(panel, torch18, reference)
    for k in (0, 17, len(panel) - 1):
        alone = score_points(panel.iloc[[k]], torch18, reference)
        assert alone["rank_zone"].iloc[0] == whole["rank_zone"].iloc[k]
        assert alone["rank_stage"].iloc[0] == whole["rank_stage"].iloc[k]


def test_a_zone_unknown_to_the_reference_has_no_rank(make_frame, torch18, reference):
    out = score_points(make_frame([{"zone": "not_a_zone"}]), torch18, reference)
    assert np.isnan(out["rank_zone"].iloc[0]) and np.isnan(out["rank_stage"].iloc[0])


def test_a_missing_column_is_named(make_frame, torch18, reference):
    frame = make_frame([{}]).drop(columns=["rd_expense"])
    with pytest.raises(DataValidationError, match="rd_expense"):
        score_points(frame, torch18, reference)


def test_a_missing_stage_field_value_is_reported_with_field_and_row(make_frame, torch18, reference):
    frame = make_frame([{}, {"revenue": np.nan}])
    with pytest.raises(DataValidationError, match="revenue") as info:
        score_points(frame, torch18, reference)
    assert info.value.field == "revenue"
    assert info.value.row == 2


def test_empty_frame_scores_to_an_empty_frame(make_frame, torch18, reference):
    out = score_points(make_frame([{}]).iloc[:0], torch18, reference)
    assert len(out) == 0
    assert "points_total" in out.columns


def test_missing_optional_values_score_the_missing_score(make_frame, torch18, reference):
    out = score_points(make_frame([{"degree_staff": np.nan}]), torch18, reference)
    assert np.isnan(out["ind_degree_staff_ratio_value"].iloc[0])
    assert np.isnan(out["ind_degree_staff_ratio_pct"].iloc[0])
    assert out["ind_degree_staff_ratio_points"].iloc[0] == 0.0


def test_zero_denominators_follow_the_declared_rule(make_frame, torch18, reference):
    # given a firm with no revenue but R&D spending, no prior revenue and no assets
    frame = make_frame([{"revenue": 0.0, "rd_expense": 50_000.0, "revenue_prev": 0.0, "net_profit": -10_000.0,
                         "total_assets": 0.0, "total_liabilities": 0.0}])  # fmt: skip
    out = score_points(frame, torch18, reference)
    assert out["ind_rd_intensity_value"].iloc[0] == 1.0
    assert out["ind_revenue_growth_value"].iloc[0] == 0.0
    assert out["ind_net_profit_margin_value"].iloc[0] == 0.0
    assert out["ind_debt_to_assets_value"].iloc[0] == 1.0


def test_seed_stage_moves_revenue_weights(torch18):
    weights = torch18.stage_weight_matrix
    seed, growth = torch18.stage_ids.index("seed"), torch18.stage_ids.index("growth")
    ids = torch18.indicator_ids
    assert weights[seed, ids.index("revenue")] == 0.0
    assert weights[seed, ids.index("net_profit_margin")] == 0.0
    # tech base 50 + revenue 6 = 56 scaled to 60: rd_intensity (10 + 6) * 60 / 56
    assert weights[seed, ids.index("rd_intensity")] == pytest.approx(16 * 60 / 56)
    assert weights[growth, ids.index("rd_intensity")] == pytest.approx(10.0)
    np.testing.assert_allclose(weights.sum(axis=1), 100.0)


def test_threads_and_chunking_do_not_change_any_number(panel, torch18, reference, monkeypatch):
    # given chunks far smaller than the batch, so many chunks are scored, in parallel
    import credit_points.points.scorer as engine

    monkeypatch.setattr(engine, "_CHUNK", 97)
    frame = panel.head(1000)
    parallel = PointsScorer(torch18, reference, threads=2).score(frame)
    monkeypatch.setattr(engine, "_CHUNK", 1 << 16)
    whole = PointsScorer(torch18, reference).score(frame)
    pd.testing.assert_frame_equal(parallel, whole, check_exact=True)
