"""All shipped profiles load and score the same generated data."""

from __future__ import annotations

import numpy as np
import pytest

from credit_points.points.config import load_points_config
from credit_points.points.diagnosis import weak_spots
from credit_points.points.scorer import build_reference, score_points


@pytest.mark.parametrize("name", ["torch-18", "changsha-38", "wuxi-42"])
def test_every_profile_scores_the_same_generated_zone(panel, name):
    cfg = load_points_config(name)
    ref = build_reference(panel, cfg)
    out = score_points(panel, cfg, ref)
    assert len(out) == len(panel)
    assert out.index.equals(panel.index)
    assert set(out["stage"]) == set(cfg.stage_ids)
    assert out["points_core"].between(0, cfg.scale + 1e-9).all()
    assert (out["points_total"] >= 0).all()
    assert out["points_total"].max() <= cfg.scale + cfg.bonus.cap + 1e-9
    cats = out[[f"points_cat_{c}" for c in cfg.category_ids]].sum(axis=1)
    np.testing.assert_allclose(out["points_core"], cats, atol=1e-9)
    # vetoes are the same facts whatever the zone
    assert out["veto_reasons"].equals(score_points(panel, load_points_config("torch-18"))["veto_reasons"])
    spots = weak_spots(panel.head(50), out.head(50), cfg, ref)
    assert (spots["gain_points"] > 0).all()


def test_the_minimal_zone_scores_every_indicator_kind(make_frame):
    from pathlib import Path

    cfg = load_points_config(Path(__file__).parent / "valid" / "minimal-zone.yaml")
    frame = make_frame([{"revenue": 5e6, "tax_paid": 50_000.0, "capital_market": True, "max_overdue_days_24m": 45.0,
                         "rd_platform_tier": 2.0, "invention_patents_valid": 9.0, "admin_penalties_2y": 1.0},
                        {"tax_paid": 2_000_000.0, "max_overdue_days_24m": np.nan, "revenue": 2e7}])  # fmt: skip
    out = score_points(frame, cfg)
    w = cfg.stage_weight_matrix
    small = cfg.stage_ids.index("small")
    ids = cfg.indicator_ids
    assert out["ind_tax_paid_points"].iloc[0] == pytest.approx(0.2 * w[small, ids.index("tax_paid")])
    assert out["ind_capital_market_points"].iloc[0] == pytest.approx(w[small, ids.index("capital_market")])
    assert out["ind_overdue_points"].iloc[0] == 0.0  # 45 days: the worst band of a lower-is-better indicator
    assert out["ind_overdue_points"].iloc[1] == pytest.approx(w[1, ids.index("overdue")])  # missing -> 1.0
    assert out["ind_rd_platform_tier_points"].iloc[0] == pytest.approx(
        2 / 3 * w[small, ids.index("rd_platform_tier")]
    )
    assert out["points_bonus"].iloc[0] == 8.0  # item cap 8 below the group cap 10
    assert out["points_deductions"].iloc[0] == 10.0


@pytest.mark.parametrize("name", ["changsha-38", "wuxi-42"])
def test_alone_equals_in_batch_for_every_profile(panel, name):
    import pandas as pd

    from credit_points.points.scorer import PointsScorer

    cfg = load_points_config(name)
    scorer = PointsScorer(cfg, build_reference(panel, cfg))
    batch = scorer.score(panel.head(200))
    alone = pd.concat([scorer.score(panel.iloc[[k]]) for k in range(0, 200, 13)])
    cols = [c for c in batch.columns if not c.startswith("rank_")]
    pd.testing.assert_frame_equal(alone[cols], batch.loc[alone.index, cols], check_exact=True)
