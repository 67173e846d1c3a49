"""What monitoring keeps of a training sample, and the PSI it computes from it: against numpy by hand,
and its significance against repeated draws of unchanged data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_points.pd_model.validation import (
    monitoring_reference,
    psi,
    psi_against,
    psi_p_value,
    reference_distribution,
)


def _psi_by_hand(reference: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.array(
        [np.mean(np.searchsorted(edges, reference, side="left") == i) for i in range(len(edges) + 1)]
    )
    a = np.array([np.mean(np.searchsorted(edges, actual, side="left") == i) for i in range(len(edges) + 1)])
    e, a = np.clip(e, 1e-6, None), np.clip(a, 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


def test_psi_from_the_stored_reference_equals_numpy_by_hand() -> None:
    rng = np.random.default_rng(0)
    train, drifted = rng.lognormal(0, 1, 20_000), rng.lognormal(0.2, 1.1, 3_000)
    reference = reference_distribution(train)
    assert psi_against(reference, drifted) == pytest.approx(_psi_by_hand(train, drifted), rel=1e-12)
    assert psi_against(reference, drifted) == pytest.approx(psi(train, drifted), rel=1e-12)
    assert sum(reference["shares"]) == pytest.approx(1.0) and reference["n"] == 20_000


def test_the_fixed_band_cries_wolf_on_small_windows_and_the_significance_does_not() -> None:
    # 400 windows of 100 unchanged rows against a 50,000-row training sample
    rng = np.random.default_rng(1)
    reference = reference_distribution(rng.normal(size=50_000))
    values = [psi_against(reference, rng.normal(size=100)) for _ in range(400)]
    p = np.array([psi_p_value(v, 50_000, 100, 10) for v in values])
    assert (
        np.mean(np.array(values) > 0.10) > 0.2
    )  # the 0.10 band alone: a false alarm in a window out of five
    assert 0.01 < np.mean(p < 0.05) < 0.10  # significance at 5%: about 5% of unchanged windows
    # a real shift of the same window size is significant
    shifted = psi_against(reference, rng.normal(0.8, 1.0, size=100))
    assert psi_p_value(shifted, 50_000, 100, 10) < 0.001


def test_weights_count_an_applicant_entered_twice_once() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=1000)
    twice = np.concatenate([x, x[:300]])
    weights = np.concatenate([np.where(np.arange(1000) < 300, 0.5, 1.0), np.full(300, 0.5)])
    weighted = reference_distribution(twice, weights=weights)
    # the same edges as the duplicated sample, and the shares of the applicants
    edges = np.asarray(weighted["edges"])
    expected = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1) / 1000
    np.testing.assert_allclose(weighted["shares"][:-1], expected, rtol=1e-12)


def test_the_monitoring_reference_has_every_feature_and_grade() -> None:
    rng = np.random.default_rng(3)
    X = pd.DataFrame(
        {"a": rng.normal(size=500), "b": np.where(rng.random(500) < 0.1, np.nan, rng.random(500))}
    )
    prob = rng.uniform(0.001, 0.2, 500)
    grades = np.where(prob < 0.05, "3", "7")
    ref = monitoring_reference(prob, grades, X)
    assert set(ref["features"]) == {"a", "b"} and ref["rows"] == 500
    assert ref["features"]["b"]["shares"][-1] == pytest.approx(np.mean(np.isnan(X["b"])))
    assert ref["grades"] == pytest.approx({"3": np.mean(prob < 0.05), "7": np.mean(prob >= 0.05)})
