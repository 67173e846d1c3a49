"""The linear candidate: a known answer against scikit-learn, exact sign constraints, additive
explanations, JSON round trip, and a row scored alone as in a batch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from credit_points.pd_model.linear import LinearPD


def _data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.normal(size=n),  # a strong linear driver (risk up)
            rng.lognormal(size=n),  # skewed, risk down
            rng.integers(0, 4, size=n).astype(float),  # a category code
            rng.normal(size=n),  # noise whose sample effect may have either sign
        ]
    )
    X[rng.random(n) < 0.1, 1] = np.nan
    eta = (
        -3
        + 1.2 * X[:, 0]
        - 0.4 * np.nan_to_num(X[:, 1], nan=1.0)
        + np.array([0, 0.5, -0.5, 1])[X[:, 2].astype(int)]
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return X, y


def test_without_constraints_it_is_sklearns_logistic_regression_on_the_same_design() -> None:
    X, y = _data()
    model = LinearPD(categorical_features=(2,), C_grid=(0.5,)).fit(X, y)
    # the same transformed columns, fitted by scikit-learn's solver
    Z = model._design(X)
    reference = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(Z, y)
    assert np.allclose(model.coef_, reference.coef_[0], atol=2e-5)
    assert model.intercept_ == pytest.approx(reference.intercept_[0], abs=2e-5)
    # and the transforms are what they say: standardised values, a missing flag, one column per code
    kinds = [(j, kind) for j, kind, _ in model.columns_]
    assert kinds == [(0, "value"), (1, "value"), (1, "missing"), (2, "category"), (2, "category"),
                     (2, "category"), (2, "category"), (3, "value")]  # fmt: skip
    assert abs(Z[:, 0].mean()) < 1e-12 and Z[:, 0].std() == pytest.approx(1.0)


def test_sign_constraints_hold_exactly_and_the_pd_is_monotone_on_a_grid() -> None:
    X, y = _data()
    # constrain the noise column against the sign its sample effect takes
    free = LinearPD(categorical_features=(2,), C_grid=(1.0,)).fit(X, y)
    noise = next(c for c, (j, kind, _) in enumerate(free.columns_) if j == 3)
    against = -1 if free.coef_[noise] > 0 else 1
    model = LinearPD(monotone_constraints=(1, -1, 0, against), categorical_features=(2,)).fit(X, y)
    assert model.coef_[0] > 0 and model.coef_[1] < 0 and model.coef_[noise] == 0.0
    # every row's PD moves the constrained way along each constrained feature's range
    rows = X[:200]
    for j, sign in ((0, 1), (1, -1)):
        grid = np.nanquantile(X[:, j], np.linspace(0, 1, 25))
        scores = []
        for value in grid:
            moved = rows.copy()
            moved[:, j] = value
            scores.append(model.raw_score(moved))
        steps = np.diff(np.column_stack(scores), axis=1) * sign
        assert (steps >= 0).all()


def test_explanations_add_up_and_the_model_survives_json_bit_for_bit() -> None:
    X, y = _data()
    model = LinearPD(monotone_constraints=(1, -1, 0, 0), categorical_features=(2,)).fit(X, y)
    contrib, base = model.contributions(X)
    assert np.allclose(base + contrib.sum(axis=1), model.raw_score(X), rtol=0, atol=1e-12)
    # a feature the row does not differ on from the training mean contributes nothing
    assert contrib[:, 3].mean() == pytest.approx(0.0, abs=1e-12)
    reloaded = LinearPD.from_dict(json.loads(json.dumps(model.to_dict())))
    assert np.array_equal(reloaded.raw_score(X), model.raw_score(X))
    assert reloaded.C_ == model.C_ and len(model.selection_) == len(model.C_grid)


def test_a_row_scores_alone_as_in_its_batch_and_unseen_codes_and_gaps_are_scored() -> None:
    X, y = _data()
    model = LinearPD(categorical_features=(2,)).fit(X, y)
    batch = model.raw_score(X[:500])
    alone = np.array([model.raw_score(X[i : i + 1])[0] for i in range(500)])
    assert np.array_equal(batch, alone)
    odd = np.array([[np.nan, np.nan, 9.0, np.nan]])  # every gap, and a category never seen
    assert np.isfinite(model.raw_score(odd)).all()
    # the fit is deterministic
    again = LinearPD(categorical_features=(2,)).fit(X, y)
    assert np.array_equal(again.coef_, model.coef_) and again.C_ == model.C_


def test_regularisation_is_chosen_out_of_fold() -> None:
    # few rows and many useless columns: the strongest penalty in the grid validates best
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 40))
    y = (rng.random(150) < 1 / (1 + np.exp(-(X[:, 0] - 1)))).astype(int)
    model = LinearPD(C_grid=(0.01, 100.0)).fit(X, y)
    table = {row["C"]: row["log_loss"] for row in model.selection_}
    assert model.C_ == min(table, key=table.get) == 0.01


def test_bad_settings_are_refused() -> None:
    X, y = _data(200)
    with pytest.raises(ValueError, match="monotone_constraints has 2 entries for 4 features"):
        LinearPD(monotone_constraints=(1, 0)).fit(X, y)
    with pytest.raises(ValueError, match="C_grid must hold positive values"):
        LinearPD(C_grid=(0.0,)).fit(X, y)


def test_a_curved_effect_chooses_the_spline_and_it_keeps_every_property() -> None:
    # given log-odds that follow the logarithm of a skewed amount (risk falls fast, then flattens)
    rng = np.random.default_rng(7)
    n = 4000
    X = np.column_stack([rng.lognormal(1.0, 1.0, size=n), rng.integers(0, 3, size=n).astype(float)])
    X[rng.random(n) < 0.05, 0] = np.nan
    eta = (
        -1.0 - 1.3 * np.log(np.nan_to_num(X[:, 0], nan=3.0)) + np.array([0.0, 0.4, -0.4])[X[:, 1].astype(int)]
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    model = LinearPD(
        monotone_constraints=(-1, 0), categorical_features=(1,), transforms=("linear", "spline")
    ).fit(X[:3000], y[:3000])
    # then out of fold the spline beats the straight line, and it is what the model uses
    table = {(r["C"], r["transform"]): r["log_loss"] for r in model.selection_}
    best_of = {t: min(v for (_, s), v in table.items() if s == t) for t in ("linear", "spline")}
    assert best_of["spline"] < best_of["linear"] and model.transform_ == "spline"
    ramps = [c for c, (j, kind, _) in enumerate(model.columns_) if kind == "ramp"]
    assert len(ramps) == len(model.knots_[0]) - 1 >= 2
    assert (model.coef_[ramps] <= 0).all()  # monotone by sign bounds on every ramp
    # the PD never rises along the amount, beyond the outermost knots included
    grid = np.concatenate([[0.0], np.nanquantile(X[:, 0], np.linspace(0, 1, 40)), [1e6]])
    rows = X[3000:3200]
    scores = []
    for value in grid:
        moved = rows.copy()
        moved[:, 0] = value
        scores.append(model.raw_score(moved))
    assert (np.diff(np.column_stack(scores), axis=1) <= 0).all()
    # explanations add up, a row scores alone as in its batch, JSON keeps every bit
    contrib, base = model.contributions(X[3000:])
    assert np.allclose(base + contrib.sum(axis=1), model.raw_score(X[3000:]), rtol=0, atol=1e-12)
    alone = np.array([model.raw_score(X[i : i + 1])[0] for i in range(3000, 3300)])
    assert np.array_equal(alone, model.raw_score(X[3000:3300]))
    reloaded = LinearPD.from_dict(json.loads(json.dumps(model.to_dict())))
    assert np.array_equal(reloaded.raw_score(X), model.raw_score(X)) and reloaded.transform_ == "spline"
    # and it ranks the held-out rows better than the best straight line
    line = LinearPD(monotone_constraints=(-1, 0), categorical_features=(1,)).fit(X[:3000], y[:3000])

    assert roc_auc_score(y[3000:], model.raw_score(X[3000:])) > roc_auc_score(
        y[3000:], line.raw_score(X[3000:])
    )


def test_candidates_scored_on_a_callers_folds_equal_a_fit_of_each() -> None:
    X, y = _data(1500)
    model = LinearPD(categorical_features=(2,), C_grid=(0.1, 1.0), transforms=("linear", "spline"))
    scores = model.candidate_scores(X[:1000], y[:1000], X[1000:])
    assert set(scores) == {(0.1, "linear"), (1.0, "linear"), (0.1, "spline"), (1.0, "spline")}
    for (C, shape), raw in scores.items():
        alone = LinearPD(categorical_features=(2,), C_grid=(C,), transforms=(shape,)).fit(X[:1000], y[:1000])
        # warm-started along the C path and solved to the screening tolerance (the chosen candidate is
        # refitted to full precision), so equal to a few thousandths of a log-odds, not bit for bit
        np.testing.assert_allclose(raw, alone.raw_score(X[1000:]), rtol=0, atol=5e-3)
        assert abs(roc_auc_score(y[1000:], raw) - roc_auc_score(y[1000:], alone.raw_score(X[1000:]))) < 1e-3


def test_bad_spline_settings_are_refused() -> None:
    X, y = _data(200)
    with pytest.raises(ValueError, match="transforms must be among"):
        LinearPD(transforms=("cubic",)).fit(X, y)
    with pytest.raises(ValueError, match="spline_knots must be at least 2"):
        LinearPD(transforms=("spline",), spline_knots=1).fit(X, y)
