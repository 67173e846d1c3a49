"""Row weights (what reject inference trains with): no weights and unit weights give the same model, a
weight counts as that many rows where the estimate allows it, and heavier defaults raise the PD."""

from __future__ import annotations

import numpy as np
import pytest

from credit_points.pd_model.calibration import fit_platt, sigmoid
from credit_points.pd_model.classifier import PDClassifier
from credit_points.pd_model.scorecard import WoEScorecard


def test_platt_weights_count_as_repeated_rows() -> None:
    rng = np.random.default_rng(3)
    s = rng.normal(size=3000)
    y = (rng.random(3000) < sigmoid(1.7 * s - 2.0)).astype(float)
    k = rng.integers(0, 4, size=3000)  # 0 drops a row
    weighted = fit_platt(s, y, sample_weight=k)
    repeated = fit_platt(np.repeat(s, k), np.repeat(y, k))
    np.testing.assert_allclose(weighted, repeated, rtol=1e-9)
    assert fit_platt(s, y, sample_weight=np.ones(3000)) == fit_platt(s, y)


@pytest.mark.parametrize("blend", [None, (0.0, 0.5, 1.0)])
def test_unit_weights_give_exactly_the_unweighted_model(data, fast_config, blend) -> None:
    X, y, Xc, yc = data
    plain = PDClassifier.from_config(fast_config, blend_weights=blend).fit(X, y, Xc, yc)
    unit = PDClassifier.from_config(fast_config, blend_weights=blend).fit(
        X, y, Xc, yc, sample_weight=np.ones(len(y)), calib_weight=np.ones(len(yc))
    )
    assert unit.booster_.model_to_string() == plain.booster_.model_to_string()
    np.testing.assert_array_equal(unit.raw_score(Xc), plain.raw_score(Xc))


def test_scorecard_weights_count_in_the_woe_tables(data, fast_config) -> None:
    # Given bins fixed in advance, the WoE of a weighted fit equals that of the rows repeated
    X, y, _, _ = data
    Xa = X.to_numpy()[:, :4]
    k = np.random.default_rng(5).integers(1, 4, size=len(y)).astype(float)
    weighted = WoEScorecard().fit(Xa, y, sample_weight=k)
    times = k.astype(int)
    repeated = WoEScorecard().fit(np.repeat(Xa, times, axis=0), np.repeat(y, times))
    same_bins = 0
    for a, b in zip(weighted.tables_, repeated.tables_, strict=True):
        if a.get("splits") == b.get("splits"):  # the same bins were found: the same weights of evidence
            np.testing.assert_allclose(a["woe"], b["woe"], rtol=1e-12)
            assert a["iv"] == pytest.approx(b["iv"], rel=1e-12)
            same_bins += 1
    assert same_bins >= 2


def test_heavier_defaults_raise_the_predicted_pd(data, fast_config) -> None:
    X, y, Xc, yc = data
    plain = PDClassifier.from_config(fast_config).fit(X, y, Xc, yc)
    heavy = PDClassifier.from_config(fast_config).fit(
        X, y, Xc, yc, sample_weight=np.where(y == 1, 3.0, 1.0), calib_weight=np.where(yc == 1, 3.0, 1.0)
    )
    assert heavy.predict_pd(Xc).mean() > 1.5 * plain.predict_pd(Xc).mean()


def test_bad_weights_are_refused_with_the_row_and_value(data, fast_config) -> None:
    X, y, _, _ = data
    w = np.ones(len(y))
    w[6] = -0.5
    with pytest.raises(ValueError, match=r"row 7 has -0\.5"):
        PDClassifier.from_config(fast_config).fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="sample_weight has 3 values"):
        WoEScorecard().fit(X.to_numpy(), y, sample_weight=[1.0, 1.0, 1.0])


def test_platt_with_a_reversed_score_and_few_defaults_keeps_the_base_rate() -> None:
    # the three defaults have the lowest scores: the slope is held at its floor, and the intercept must
    # still reproduce the default rate instead of running off to minus infinity
    rng = np.random.default_rng(0)
    s = rng.normal(size=1000)
    y = np.zeros(1000)
    y[np.argsort(s)[:3]] = 1.0
    a, b = fit_platt(s, y, min_slope=1e-3)
    assert a == 1e-3 and np.isfinite(b)
    assert sigmoid(a * s + b).mean() == pytest.approx(0.003, rel=1e-6)
