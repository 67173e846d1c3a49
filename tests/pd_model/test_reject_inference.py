"""Reject inference inside ``fit_pd_model``: each method's rows and weights, fitted on the training years
only, deterministic, and the model it trains stays additive and monotone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_points.pd_model.config import PDModelConfig
from credit_points.pd_model.features import build_features
from credit_points.pd_model.reject_inference import METHODS, RejectInference, RejectInferenceConfig
from credit_points.pd_model.training import fit_pd_model


def _with(config: PDModelConfig, method: str, **settings: float) -> PDModelConfig:
    ri = config.reject_inference.model_copy(update={"method": method, **settings})
    return config.model_copy(update={"reject_inference": ri})


@pytest.fixture(scope="module")
def applied(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel as a lender sees it: the old policy booked the 60% it scored safest (true log-odds plus
    noise); the others have no outcome."""
    rng = np.random.default_rng(11)
    score = np.log(panel["true_pd"] / (1 - panel["true_pd"])) + rng.normal(0, 0.7, len(panel))
    booked = score <= np.quantile(score, 0.6)
    return panel.drop(columns=["true_pd"]).assign(default_12m=panel["default_12m"].where(booked))


@pytest.fixture(scope="module")
def fits(applied: pd.DataFrame, fast_config: PDModelConfig) -> dict:
    return {method: fit_pd_model(applied, _with(fast_config, method)) for method in METHODS}


def _scrambled(frame: pd.DataFrame, rows: pd.Series) -> pd.DataFrame:
    """``frame`` with the numbers of ``rows`` shuffled among them (same firms and dates, other values)."""
    out = frame.copy()
    numbers = [c for c in frame.columns if c != "default_12m" and pd.api.types.is_float_dtype(frame[c])]
    out.loc[rows, numbers] = frame.loc[rows, numbers].sample(frac=1.0, random_state=3).to_numpy()
    return out


def test_none_learns_from_the_booked_loans_alone(applied, fast_config, fits) -> None:
    # the applicants without an outcome given other values: the same model (they are left out)
    other = fit_pd_model(_scrambled(applied, applied["default_12m"].isna()), fast_config)
    fit = fits["none"]
    assert fit.model.booster_.model_to_string() == other.model.booster_.model_to_string()
    assert fit.extra["reject_inference"]["train_unbooked_rows"] > 0  # they were there, and left out
    # while reject inference learns from them
    augmented = fit_pd_model(
        _scrambled(applied, applied["default_12m"].isna()), _with(fast_config, "augment")
    )
    assert augmented.model.booster_.model_to_string() != fits["augment"].model.booster_.model_to_string()


@pytest.mark.parametrize("method", METHODS)
def test_validation_is_on_booked_loans_of_the_test_year_only(applied, fits, method) -> None:
    fit = fits[method]
    year = applied["as_of_date"].iloc[fit.split.test].dt.year.unique()
    assert len(year) == 1 and not np.isnan(fit.y_oot).any()
    assert len(fit.y_oot) == int(applied["default_12m"].iloc[fit.split.test].notna().sum())


@pytest.mark.parametrize("method", ["reweight", "augment", "parcel"])
def test_the_test_year_never_shapes_the_model(applied, fast_config, fits, method) -> None:
    # the applicants of the test year without an outcome given other values: the same model
    test_year = applied["as_of_date"].iloc[fits[method].split.test].dt.year.iloc[0]
    unbooked_test = (applied["as_of_date"].dt.year == test_year) & applied["default_12m"].isna()
    other = fit_pd_model(_scrambled(applied, unbooked_test), _with(fast_config, method))
    assert other.model.booster_.model_to_string() == fits[method].model.booster_.model_to_string()
    assert (other.model.calib_a_, other.model.calib_b_) == (
        fits[method].model.calib_a_,
        fits[method].model.calib_b_,
    )


@pytest.mark.parametrize("method", ["reweight", "augment", "parcel"])
def test_each_method_is_deterministic(applied, fast_config, fits, method) -> None:
    again = fit_pd_model(applied, _with(fast_config, method))
    X = fits[method].X_oot
    assert again.model.booster_.model_to_string() == fits[method].model.booster_.model_to_string()
    np.testing.assert_array_equal(again.model.raw_score(X), fits[method].model.raw_score(X))


@pytest.mark.parametrize("method", METHODS)
def test_explanations_stay_additive_and_constraints_monotone(fast_config, fits, method) -> None:
    model = fits[method].model
    X = fits[method].X_oot.iloc[:60]
    contrib, base = model.contributions(X)
    np.testing.assert_allclose(base + contrib.sum(axis=1), model.raw_score(X), rtol=0, atol=1e-9)
    rows = X.to_numpy()[:25]
    for j, (name, mono) in enumerate(
        zip(fast_config.feature_names, fast_config.monotone_constraints, strict=True)
    ):
        if mono == 0:
            continue
        col = fits[method].X_train[name]
        pds = []
        for v in np.linspace(np.nanmin(col), np.nanmax(col), 20):
            grid = rows.copy()
            grid[:, j] = v
            pds.append(model.predict_pd(grid))
        assert (np.diff(np.array(pds), axis=0) * mono >= -1e-12).all(), f"{method}: {name} against {mono}"


def test_augment_enters_each_unbooked_applicant_twice_weighted_by_its_booked_only_pd(
    applied, fast_config
) -> None:
    X = build_features(applied, fast_config)
    y = applied["default_12m"].to_numpy(dtype="float64")
    booked = ~np.isnan(y)
    ri = RejectInference(RejectInferenceConfig(method="augment"), fast_config)
    ri.fit(X[booked], y[booked], X[~booked])
    out = ri.transform(X[booked], y[booked], X[~booked])
    n_b, n_u = int(booked.sum()), int((~booked).sum())
    p = ri.booked_model_.predict_pd(X[~booked])
    assert len(out.y) == n_b + 2 * n_u and out.weight is not None
    np.testing.assert_array_equal(out.weight[n_b : n_b + n_u], p)
    np.testing.assert_array_equal(out.weight[n_b + n_u :], 1.0 - p)
    assert out.y[n_b : n_b + n_u].min() == 1.0 and out.y[n_b + n_u :].max() == 0.0
    assert out.summary["inferred_default_rate"] == pytest.approx(p.mean())
    # an applicant's two copies are one group, which the model selection's folds keep together
    assert out.groups is not None and len(np.unique(out.groups)) == n_b + n_u
    np.testing.assert_array_equal(out.groups[n_b : n_b + n_u], out.groups[n_b + n_u :])


def test_the_selection_folds_keep_a_group_together(applied, fast_config) -> None:
    from credit_points.pd_model.classifier import PDClassifier

    X = build_features(applied, fast_config)
    y = applied["default_12m"].to_numpy(dtype="float64")
    booked = ~np.isnan(y)
    model = PDClassifier.from_config(fast_config)
    with pytest.raises(ValueError, match="number of groups"):  # one group cannot be split into folds
        model.fit(X[booked], y[booked], groups=np.zeros(int(booked.sum())))


def test_parcel_takes_the_band_rate_times_the_uplift(applied, fast_config) -> None:
    X = build_features(applied, fast_config)
    y = applied["default_12m"].to_numpy(dtype="float64")
    booked = ~np.isnan(y)
    settings = RejectInferenceConfig(method="parcel", parcel_bands=5, parcel_uplift=2.0)
    ri = RejectInference(settings, fast_config).fit(X[booked], y[booked], X[~booked])
    # the band rates are the booked loans' observed default rates in bands of the booked-only score
    bands = np.digitize(ri.booked_model_.raw_score(X[booked]), ri.band_edges_)
    observed = pd.Series(y[booked]).groupby(bands).mean()
    np.testing.assert_allclose(ri.band_rates_[observed.index], observed.to_numpy())
    out = ri.transform(X[booked], y[booked], X[~booked])
    n_b, n_u = int(booked.sum()), int((~booked).sum())
    unbooked_bands = np.digitize(ri.booked_model_.raw_score(X[~booked]), ri.band_edges_)
    expected = np.minimum(ri.band_rates_[unbooked_bands] * 2.0, 1.0)
    kept = out.weight[n_b:]
    assert len(kept) <= 2 * n_u and np.isclose(kept.sum(), n_u)  # each applicant's weights sum to 1
    assert out.summary["inferred_default_rate"] == pytest.approx(expected.mean())


def test_reweight_weighs_booked_loans_by_their_inverse_booking_probability(applied, fast_config) -> None:
    X = build_features(applied, fast_config)
    y = applied["default_12m"].to_numpy(dtype="float64")
    booked = ~np.isnan(y)
    ri = RejectInference(RejectInferenceConfig(method="reweight", max_weight=8.0), fast_config)
    out = ri.fit(X[booked], y[booked], X[~booked]).transform(X[booked], y[booked], X[~booked])
    p = ri.booking_model_.predict_proba(X[booked].to_numpy())[:, 1]
    raw = np.minimum(1.0 / p, 8.0)
    assert len(out.y) == int(booked.sum()) and out.weight is not None
    np.testing.assert_allclose(out.weight, raw / raw.mean())
    # the booked loans most like the applicants turned away weigh most
    order = np.argsort(p)
    assert (np.diff(out.weight[order]) <= 1e-12).all() and out.weight.max() > 2 * out.weight.min()
    assert out.weight.mean() == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["augment", "parcel"])
def test_a_selection_folds_weights_learn_no_other_folds_outcomes(applied, fast_config, method) -> None:
    X = build_features(applied, fast_config)
    y = applied["default_12m"].to_numpy(dtype="float64")
    booked = ~np.isnan(y)
    Xb, yb, Xu = X[booked], y[booked], X[~booked]
    ri = RejectInference(RejectInferenceConfig(method=method), fast_config).fit(Xb, yb, Xu)
    out = ri.transform(Xb, yb, Xu)
    assert out.fold_weights is not None
    # every row: the helpers refitted on everything are the helpers fitted once
    np.testing.assert_array_equal(out.fold_weights(np.arange(len(out.y))), out.weight)
    # a fold's weights do not move when the booked loans outside it change outcome
    n_b = len(yb)
    rows = np.flatnonzero(np.random.default_rng(2).random(len(out.y)) < 0.6)
    outside = np.setdiff1d(np.arange(n_b), rows)
    flipped = yb.copy()
    flipped[outside] = 1.0 - flipped[outside]
    other = RejectInference(RejectInferenceConfig(method=method), fast_config).fit(Xb, flipped, Xu)
    np.testing.assert_array_equal(other.transform(Xb, flipped, Xu).fold_weights(rows), out.fold_weights(rows))


def test_the_classifier_asks_each_fold_for_its_own_weights(applied, fast_config) -> None:
    from credit_points.pd_model.classifier import PDClassifier

    X = build_features(applied, fast_config)
    y = applied["default_12m"].to_numpy(dtype="float64")
    booked = ~np.isnan(y)
    calls: list[np.ndarray] = []

    def ones(rows: np.ndarray) -> np.ndarray:
        calls.append(rows)
        return np.ones(int(booked.sum()))

    asked = PDClassifier.from_config(fast_config).fit(X[booked], y[booked], fold_weights=ones)
    plain = PDClassifier.from_config(fast_config).fit(X[booked], y[booked])
    assert len(calls) == fast_config.selection.inner_folds
    assert sorted(
        np.concatenate([np.setdiff1d(np.arange(int(booked.sum())), c) for c in calls]).tolist()
    ) == list(
        range(int(booked.sum()))
    )  # each row is validated in exactly one fold, the one whose training rows leave it out
    assert asked.booster_.model_to_string() == plain.booster_.model_to_string()
