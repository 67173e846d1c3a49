"""Validation metrics against independent computations (sklearn, scipy, hand formulas)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import brier_score_loss, roc_auc_score

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.master_scale import assign_grade
from credit_points.pd_model.validation import (
    auc_with_ci,
    brier,
    csi_table,
    expected_calibration_error,
    gini,
    grade_table,
    hosmer_lemeshow,
    ks_statistic,
    psi,
    validation_pack,
)


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    score = rng.normal(size=400)
    p = 1 / (1 + np.exp(-(score * 1.3 - 2.0)))
    y = (rng.random(400) < p).astype(float)
    return y, np.round(p, 3)  # rounding creates ties


def _delong_by_definition(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """O(m·n) DeLong: placement values from the Heaviside kernel ψ(x, y) = 1, ½, 0."""
    pos, neg = s[y == 1], s[y == 0]
    psi_ = (pos[:, None] > neg[None, :]).astype(float) + 0.5 * (pos[:, None] == neg[None, :])
    auc = psi_.mean()
    v10, v01 = psi_.mean(axis=1), psi_.mean(axis=0)
    var = v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)
    return float(auc), float(np.sqrt(var))


def test_auc_and_delong_ci_match_independent_computations(sample) -> None:
    y, p = sample
    result = auc_with_ci(y, p, level=0.95)
    auc, se = _delong_by_definition(y, p)
    assert result["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert result["auc_se"] == pytest.approx(se, rel=1e-9)
    z = stats.norm.ppf(0.975)
    assert result["auc_ci_low"] == pytest.approx(auc - z * se)
    assert result["auc_ci_high"] == pytest.approx(auc + z * se)
    assert gini(y, p) == pytest.approx(2 * roc_auc_score(y, p) - 1)


def test_ks_and_brier_match_scipy_and_sklearn(sample) -> None:
    y, p = sample
    assert ks_statistic(y, p) == pytest.approx(stats.ks_2samp(p[y == 1], p[y == 0]).statistic, abs=1e-12)
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-15)


def test_ece_by_hand() -> None:
    # two equal-count bins of PD [0.1, 0.1 | 0.5, 0.7]; observed 0/2 and 2/2
    y = np.array([0, 0, 1, 1.0])
    p = np.array([0.1, 0.1, 0.5, 0.7])
    expected = 0.5 * abs(0.0 - 0.1) + 0.5 * abs(1.0 - 0.6)
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(expected)


def test_hosmer_lemeshow_by_hand(sample) -> None:
    y, p = sample
    order = np.argsort(p, kind="stable")
    stat = 0.0
    for chunk in np.array_split(order, 10):
        o, e, n = y[chunk].sum(), p[chunk].sum(), len(chunk)
        stat += (o - e) ** 2 / (e * (1 - e / n))
    result = hosmer_lemeshow(y, p, groups=10)
    assert result["hl_statistic"] == pytest.approx(stat)
    assert result["hl_p_value"] == pytest.approx(stats.chi2.sf(stat, 8))


def test_grade_table_tests_and_traffic_lights(pd_config) -> None:
    scale = pd_config.master_scale
    # grade "5" (1%–2%): 200 loans at PD 1.5%, 12 defaults — far more than 3 expected: red
    # grade "7" (4%–8%): 100 loans at PD 6%, 6 defaults — as expected: green
    p = np.concatenate([np.full(200, 0.015), np.full(100, 0.06)])
    y = np.concatenate([np.r_[np.ones(12), np.zeros(188)], np.r_[np.ones(6), np.zeros(94)]])
    table = grade_table(y, p, assign_grade(p, scale), scale).set_index("grade")
    row = table.loc["5"]
    assert row["n"] == 200 and row["defaults"] == 12
    assert row["binomial_p"] == pytest.approx(stats.binomtest(12, 200, 0.015, alternative="greater").pvalue)
    assert row["jeffreys_p"] == pytest.approx(stats.beta.cdf(0.015, 12.5, 188.5))
    assert row["traffic_light"] == "red"
    assert table.loc["7", "traffic_light"] == "green"
    assert table.loc["1", "traffic_light"] == "n/a"
    assert list(table.index) == scale.labels


def test_psi_by_hand() -> None:
    expected = np.arange(100.0)  # deciles of 10 each
    actual = np.concatenate(
        [np.arange(50.0), np.full(50, 95.0)]
    )  # half in the first 5 bins, half in the last
    e = np.full(10, 0.1)
    a = np.array([0.1] * 5 + [0.0] * 4 + [0.5])
    a_floor = np.clip(a, 1e-6, None)
    by_hand = float(np.sum((a_floor - e) * np.log(a_floor / e)))
    assert psi(expected, actual, bins=10) == pytest.approx(by_hand)
    assert psi(expected, expected) == pytest.approx(0.0)


def test_csi_table_and_pack(sample, pd_config) -> None:
    y, p = sample
    rng = np.random.default_rng(0)
    X_train = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    X_oot = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(1.0, 1, size=400)})
    csi = csi_table(X_train, X_oot).set_index("feature")
    assert csi.loc["b", "csi"] > csi.loc["a", "csi"]
    pack = validation_pack(
        y, p, assign_grade(p, pd_config.master_scale), pd_config.master_scale,
        train_prob_default=p[::-1], X_train=X_train, X_oot=X_oot,
    )  # fmt: skip
    metrics = pack["metrics"]
    assert all(isinstance(v, float) for v in metrics.values())
    for key in (
        "auc",
        "auc_ci_low",
        "gini",
        "ks",
        "brier",
        "ece",
        "hl_p_value",
        "score_psi",
        "csi_max",
        "grades_red",
    ):
        assert key in metrics
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, p))
    assert isinstance(pack["grade_table"], pd.DataFrame)


def test_non_binary_outcome_is_an_error() -> None:
    with pytest.raises(DataValidationError, match="0 or 1"):
        brier([0, 2], [0.1, 0.2])
