"""The reference quantile table: percentiles, serialisation, hash, compatibility."""

from __future__ import annotations

import json

import numpy as np
import pytest

from credit_points.exceptions import ConfigError
from credit_points.points.config import load_points_config
from credit_points.points.reference import ReferenceTable, midrank_percentile
from credit_points.points.scorer import build_reference, score_points


def test_percentile_between_distinct_knots_is_linear_interpolation(rng):
    # given knots without ties, the percentile is numpy's linear interpolation of the probabilities
    knots = np.sort(rng.normal(size=101)) * 10
    probs = np.linspace(0, 1, 101)
    x = rng.uniform(knots[0] - 5, knots[-1] + 5, 500)
    np.testing.assert_allclose(midrank_percentile(x, knots, probs), np.interp(x, knots, probs), atol=1e-12)


def test_percentile_at_tied_knots_is_the_middle_of_the_run():
    # 41 % of the reference has no patent: the knots at p = 0 .. 0.4 are all zero
    probs = np.linspace(0, 1, 11)
    knots = np.array([0, 0, 0, 0, 0, 1, 2, 3, 3, 5, 9], dtype=float)
    pct = midrank_percentile(np.array([0.0, 3.0, 4.0, 9.0, 10.0, -1.0, np.nan]), knots, probs)
    # by hand: run 0..0.4 -> 0.2; run 0.7..0.8 -> 0.75; 4 is halfway from 0.8 to 0.9; max -> 1; beyond -> 1
    np.testing.assert_allclose(pct[:6], [0.2, 0.75, 0.85, 1.0, 1.0, 0.0])
    assert np.isnan(pct[6])


def test_quantiles_are_numpy_quantiles_per_stage(panel, torch18, reference):
    scored = score_points(panel, torch18, reference)
    growth = scored[scored["stage"] == "growth"]["ind_rd_intensity_value"].dropna().to_numpy()
    expected = np.quantile(growth, np.linspace(0, 1, 101))
    np.testing.assert_allclose(reference.table("growth", "rd_intensity").quantiles, expected, rtol=0, atol=0)
    assert reference.stages["growth"]["n_firms"] == len(growth)


def test_round_trip_through_json_keeps_points_and_hash(panel, torch18, reference, tmp_path):
    path = reference.save(tmp_path / "ref.json")
    loaded = ReferenceTable.load(path)
    assert loaded.content_hash == reference.content_hash
    assert (
        ReferenceTable.from_dict(json.loads(json.dumps(reference.to_dict()))).content_hash
        == reference.content_hash
    )
    frame = panel.head(100)
    assert score_points(frame, torch18, loaded).equals(score_points(frame, torch18, reference))


def test_the_hash_changes_with_the_population(panel, torch18, reference):
    other = build_reference(panel.iloc[1:], torch18)
    assert other.content_hash != reference.content_hash


def test_a_reference_for_other_definitions_is_refused(panel, reference):
    changsha = load_points_config("changsha-38")
    with pytest.raises(ConfigError, match="other stage/indicator definitions"):
        score_points(panel.head(3), changsha, reference)


def test_small_stages_fall_back_to_the_configured_bands(make_frame, torch18):
    # given a reference population with only 5 mature firms (fewer than min_firms)
    few = make_frame([{"revenue": 3e8 + k * 1e7, "rd_expense": 1e7 * (k + 1)} for k in range(5)])
    ref = build_reference(few, torch18)
    assert not ref.uses_quantiles("mature", "rd_expense")
    # when a mature firm is scored, rd_expense uses the mature bands of the profile: 30 M yuan is in [25 M, 50 M)
    out = score_points(make_frame([{"revenue": 3e8, "rd_expense": 3e7}]), torch18, ref)
    weight = torch18.stage_weight_matrix[
        torch18.stage_ids.index("mature"), torch18.indicator_ids.index("rd_expense")
    ]
    assert out["ind_rd_expense_points"].iloc[0] == pytest.approx(0.55 * weight)
    assert np.isnan(out["ind_rd_expense_pct"].iloc[0])


def test_a_malformed_file_is_named(tmp_path):
    bad = tmp_path / "ref.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="ref.json"):
        ReferenceTable.load(bad)
    bad.write_text(json.dumps({"format": "something else"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="not a points reference table"):
        ReferenceTable.load(bad)
