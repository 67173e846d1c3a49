"""Weak spots and targets."""

from __future__ import annotations

import numpy as np
import pytest

from credit_points.points.diagnosis import WEAK_SPOT_COLUMNS, indicator_targets, weak_spots
from credit_points.points.scorer import PointsScorer, score_points


def test_targets_are_the_reference_quantiles(torch18, reference):
    table = indicator_targets(
        torch18, reference, indicators=["rd_intensity", "debt_to_assets", "ip_filings_3y"]
    )
    row = table[
        (table.stage == "growth") & (table.indicator == "rd_intensity") & (table.target == "p75")
    ].iloc[0]
    knots = reference.table("growth", "rd_intensity").quantiles
    assert row.target_value == pytest.approx(np.interp(0.75, reference.probs, knots))
    # lower is better: the P75 target is the raw 25th percentile
    low = table[
        (table.stage == "growth") & (table.indicator == "debt_to_assets") & (table.target == "p75")
    ].iloc[0]
    assert low.target_value == pytest.approx(reference.quantile("growth", "debt_to_assets", 0.25))
    # counts are rounded up to whole units
    count = table[(table.indicator == "ip_filings_3y")]
    assert (count.target_value == np.ceil(count.target_value)).all()


def test_reaching_the_target_gains_exactly_the_reported_points(panel, torch18, reference):
    # given the weak spots of a batch
    frame = panel.head(150)
    scored = score_points(frame, torch18, reference)
    spots = weak_spots(frame, scored, torch18, reference, k=3)
    assert list(spots.columns) == WEAK_SPOT_COLUMNS
    assert (spots.groupby("row").size() <= 3).all()
    assert (spots["gain_points"] > 0).all()
    # when one firm's raw indicator value is set to the target (what-if on the indicator value)
    scorer = PointsScorer(torch18, reference)
    for _, spot in spots.head(20).iterrows():
        j = torch18.indicator_ids.index(spot.indicator)
        codes, values = scorer.indicator_values(frame.loc[[spot.row]])
        before = scorer.score_values(codes, values)[0][j, 0]
        values[j, 0] = spot.target_value
        after = scorer.score_values(codes, values)[0][j, 0]
        weight = torch18.stage_weight_matrix[codes[0], j]
        # then the indicator's points rise by the reported gain
        assert (after - before) * weight == pytest.approx(spot.gain_points, abs=1e-9)


def test_only_actionable_indicators_are_suggested(panel, torch18, reference):
    scored = score_points(panel.head(200), torch18, reference)
    spots = weak_spots(panel.head(200), scored, torch18, reference)
    actionable = {i.id for i in torch18.indicators if i.actionable}
    assert set(spots["indicator"]) <= actionable
    assert "revenue" not in set(spots["indicator"])


def test_sentences_are_bilingual_and_name_the_target(panel, torch18, reference):
    scored = score_points(panel.head(60), torch18, reference)
    spots = weak_spots(panel.head(60), scored, torch18, reference, k=1)
    first = spots.iloc[0]
    assert first.text_en.startswith(("raise ", "reduce "))
    assert ("stage median" in first.text_en) or ("stage P75" in first.text_en)
    assert first.text_zh.startswith("将") and first.text_zh.endswith("分")
    assert f"+{first.gain_points:.1f}" in first.text_en


def test_a_firm_at_the_top_has_no_weak_spot(make_frame, torch18, reference):
    top = {"rd_expense": 5e6, "rd_staff": 40.0, "degree_staff": 40.0, "invention_patents_valid": 500.0,
           "ip_filings_3y": 500.0, "tech_contract_value": 1e9, "rd_platform_tier": 3.0, "total_liabilities": 0.0,
           "tech_qualification_tier": 4.0, "gov_st_projects": 500.0}  # fmt: skip
    frame = make_frame([top])
    spots = weak_spots(frame, score_points(frame, torch18, reference), torch18, reference)
    assert len(spots) == 0
