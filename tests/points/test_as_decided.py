"""Training on an outcomes table: the points a decision was made with replace points recomputed over the
table, where the decision used the same points configuration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from credit_points.pipelines.common import DECIDED_POINTS, points_as_decided, score_points_by_cohort
from credit_points.points.config import PointsConfig, load_points_config


def _decided_like(points: pd.DataFrame, config: PointsConfig, shift: float) -> pd.DataFrame:
    """Points as a decision would have recorded them: each part moved by ``shift`` (another reference)."""
    names = [*(f"points_{n}" for n in DECIDED_POINTS), *(f"points_cat_{c}" for c in config.category_ids)]
    decided = pd.DataFrame({f"{n}_decided": points[n].to_numpy() + shift for n in names})
    decided["points_config_hash"] = config.content_hash
    return decided


def test_rows_decided_under_the_same_configuration_learn_the_points_they_were_decided_with(
    panel: pd.DataFrame, torch18: PointsConfig
) -> None:
    # Given a panel's recomputed points and the points its decisions recorded: rows 0-9 under this
    # configuration, rows 10-14 under another, rows 15-19 historical (no points), row 20 missing a category
    frame = panel.head(40).reset_index(drop=True)
    points, _ = score_points_by_cohort(frame, torch18)
    recomputed = points.copy()
    decided = _decided_like(points, torch18, shift=3.25).set_axis(pd.RangeIndex(100, 140))  # another index
    decided.loc[110:114, "points_config_hash"] = load_points_config("wuxi-42").content_hash
    decided.loc[115:119, "points_config_hash"] = None
    decided.loc[115:119, [c for c in decided.columns if c.endswith("_decided")]] = np.nan
    decided.loc[120, f"points_cat_{torch18.category_ids[0]}_decided"] = np.nan

    # When the decided points are put in place
    same = points_as_decided(points, decided, torch18)

    # Then exactly the rows decided under this configuration, with every part present, take them
    expected = np.zeros(40, dtype=bool)
    expected[:10] = True
    expected[21:] = True
    assert (same == expected).all()
    for name in [
        *(f"points_{n}" for n in DECIDED_POINTS),
        *(f"points_cat_{c}" for c in torch18.category_ids),
    ]:
        np.testing.assert_array_equal(points.loc[same, name], recomputed.loc[same, name] + 3.25)
        np.testing.assert_array_equal(points.loc[~same, name], recomputed.loc[~same, name])
    # and the parts no record carries (indicators) stay as recomputed
    others = [c for c in points.columns if c.startswith("ind_")]
    assert others and points[others].equals(recomputed[others])


def test_without_decided_points_nothing_changes(panel: pd.DataFrame, torch18: PointsConfig) -> None:
    frame = panel.head(20).reset_index(drop=True)
    points, _ = score_points_by_cohort(frame, torch18)
    recomputed = points.copy()
    # a plain applicants file, and a table written before it carried every part of the points
    assert not points_as_decided(points, None, torch18).any()
    older = _decided_like(points, torch18, 1.0)[["points_total_decided", "points_config_hash"]]
    assert not points_as_decided(points, older, torch18).any()
    assert points.equals(recomputed)
