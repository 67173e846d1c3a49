"""WoE scorecard: WoE by hand, points scaling by hand, monotone bins, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from credit_points.pd_model.scorecard import WoEScorecard


@pytest.fixture(scope="module")
def fitted() -> tuple[WoEScorecard, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 4000
    x0 = rng.normal(size=n)
    x1 = rng.integers(0, 4, n).astype(float)  # a category code
    x0[rng.random(n) < 0.05] = np.nan
    logit = -2 + 1.2 * np.nan_to_num(x0) + 0.5 * (x1 == 2)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = np.column_stack([x0, x1])
    return WoEScorecard(categorical_features=(1,), monotone_constraints=(1, 0)).fit(X, y), X, y


def test_woe_of_each_bin_matches_hand_computation(fitted) -> None:
    sc, X, y = fitted
    table = sc.tables_[0]
    x = X[:, 0]
    idx = np.digitize(x[np.isfinite(x)], table["splits"])
    yy = y[np.isfinite(x)]
    bad_total, good_total = y.sum(), len(y) - y.sum()
    for b, woe in enumerate(table["woe"]):
        bad = yy[idx == b].sum()
        good = (idx == b).sum() - bad
        assert woe == pytest.approx(np.log((bad / bad_total) / (good / good_total)))
    miss_bad = y[~np.isfinite(x)].sum()
    miss_good = (~np.isfinite(x)).sum() - miss_bad
    assert table["woe_missing"] == pytest.approx(np.log((miss_bad / bad_total) / (miss_good / good_total)))


def test_ascending_constraint_gives_increasing_woe(fitted) -> None:
    sc, _, _ = fitted
    assert np.all(np.diff(sc.tables_[0]["woe"]) > 0)
    assert sc.coef_[0] > 0


def test_points_scaling_by_hand(fitted) -> None:
    sc, X, _ = fitted
    factor = 20 / np.log(2)
    offset = 600 - factor * np.log(50)
    log_odds_default = sc.raw_score(X)
    np.testing.assert_allclose(sc.score(X), offset - factor * log_odds_default)
    # doubling the good:bad odds adds PDO points
    assert offset + factor * np.log(100) - (offset + factor * np.log(50)) == pytest.approx(20)


def test_points_table_rows_add_up_to_the_score(fitted) -> None:
    sc, X, _ = fitted
    table = sc.points_table(["x0", "x1"])
    assert set(table.columns) == {"feature", "bin", "woe", "points"}
    # row 0 of X: look its bins up by WoE value and add their points
    W = sc.woe_transform(X[:5])
    for i in range(5):
        total = 0.0
        for j in sc.selected_:
            rows = table[table["feature"] == f"x{j}"]
            total += rows.loc[np.isclose(rows["woe"], W[i, j]), "points"].iloc[0]
        assert total == pytest.approx(sc.score(X[i : i + 1])[0])


def test_unseen_category_gets_the_neutral_woe(fitted) -> None:
    sc, _, _ = fitted
    W = sc.woe_transform(np.array([[0.0, 99.0]]))
    assert W[0, 1] == 0.0


def test_json_round_trip_is_exact(fitted) -> None:
    sc, X, _ = fitted
    restored = WoEScorecard.from_dict(json.loads(json.dumps(sc.to_dict())))
    assert np.array_equal(restored.predict_proba(X), sc.predict_proba(X))
    c1, b1 = sc.contributions(X)
    np.testing.assert_allclose(b1 + c1.sum(axis=1), sc.raw_score(X), atol=1e-12)
    assert isinstance(pd.DataFrame(sc.to_dict()["tables"]), pd.DataFrame)
