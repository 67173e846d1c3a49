"""Generic data and the pd-cv command: string labels, categories, missing values, all fitted inside folds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from credit_points.cli import main
from credit_points.exceptions import DataValidationError
from credit_points.pd_model.generic import TabularEncoder, cross_validate_pd, resolve_target


def make_loans(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.5, n)
    purpose = rng.choice(["car", "house", "education", "other"], n)
    age = rng.integers(20, 70, n).astype(float)
    logit = -1.0 - 0.8 * (np.log(income) - 10) / 0.5 + 0.9 * (purpose == "education") - 0.02 * (age - 40)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "income": income,
            "purpose": purpose,
            "age": age,
            "duration": rng.choice(["12", "24", "36"], n),  # numbers stored as text
            "status": np.where(y, "bad", "good"),
        }
    )
    frame.loc[rng.random(n) < 0.1, "income"] = np.nan
    frame.loc[rng.random(n) < 0.05, "purpose"] = None
    return frame


def test_target_reading() -> None:
    y, label = resolve_target(pd.Series(["good", "bad", None, "good"], name="t"), None, ("bad",))
    assert label == "bad" and y[:2].tolist() == [0.0, 1.0] and np.isnan(y[2])
    y, label = resolve_target(pd.Series(["A", "B", "B", "B"], name="t"))  # no known label: minority is bad
    assert label == "A" and y.tolist() == [1.0, 0.0, 0.0, 0.0]
    with pytest.raises(DataValidationError, match="exactly two"):
        resolve_target(pd.Series(["a", "b", "c"], name="t"))
    with pytest.raises(DataValidationError, match="never occurs"):
        resolve_target(pd.Series(["a", "b"], name="t"), "z")


def test_encoder_learns_categories_from_the_training_fold_only() -> None:
    train = pd.DataFrame({"p": ["x", "y", None], "n": ["1", "2", "3"]})
    enc = TabularEncoder().fit(train)
    assert enc.kinds_ == {"p": "category", "n": "numeric"}
    out = enc.transform(pd.DataFrame({"p": ["y", "unseen", None], "n": ["4", "x", None]}))
    assert out[0].tolist() == [1.0, 4.0]
    assert np.isnan(out[1, 0]) and np.isnan(out[1, 1]) and np.isnan(out[2]).all()


def test_cross_validation_beats_chance_and_reports_every_fold(pd_config) -> None:
    result = cross_validate_pd(make_loans(), "status", folds=3, seed=0, config=pd_config)
    assert result["folds"] == 3 and len(result["per_fold"]) == 3
    assert result["bad_label"] == "bad"
    assert result["auc"] > 0.65
    assert 0 < result["brier"] < result["bad_rate"] * (1 - result["bad_rate"])  # beats the constant PD
    assert result["auc"] == pytest.approx(np.mean([f["auc"] for f in result["per_fold"]]))


def test_folds_in_parallel_processes_give_the_sequential_figures(pd_config) -> None:
    loans = make_loans(500, seed=2)
    one = cross_validate_pd(loans, "status", folds=3, seed=0, config=pd_config, jobs=1)
    two = cross_validate_pd(loans, "status", folds=3, seed=0, config=pd_config, jobs=2)
    assert one == two
    assert [f["fold"] for f in two["per_fold"]] == [0, 1, 2]


def test_pd_cv_command_prints_json(tmp_path, capsys) -> None:
    path = tmp_path / "loans.csv"
    make_loans(400, seed=1).to_csv(path, index=False)
    main(["pd-cv", "--data", str(path), "--target", "status", "--bad-value", "bad", "--folds", "2", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert {"auc", "ks", "brier", "folds"} <= set(payload)
    assert payload["folds"] == 2 and 0.5 < payload["auc"] <= 1


def test_pd_cv_command_names_a_missing_target(tmp_path, capsys) -> None:
    path = tmp_path / "loans.csv"
    make_loans(100).to_csv(path, index=False)
    with pytest.raises(SystemExit) as ended:
        main(["pd-cv", "--data", str(path), "--target", "nope"])
    assert ended.value.code == 2
    assert "nope" in capsys.readouterr().err


def test_pd_cv_offers_the_linear_candidate_on_request(tmp_path, capsys) -> None:
    # given loans whose log-odds are linear in log income, a category and age (the linear model's ground)
    path = tmp_path / "loans.csv"
    make_loans(1500, seed=2).to_csv(path, index=False)
    main(["pd-cv", "--data", str(path), "--target", "status", "--folds", "3", "--json", "--linear"])
    folds = json.loads(capsys.readouterr().out)["per_fold"]
    # then the selection gives the linear part weight in its folds; without the flag it never exists
    assert all(0.0 <= f["linear_weight"] <= 1.0 for f in folds) and any(f["linear_weight"] > 0 for f in folds)
    main(["pd-cv", "--data", str(path), "--target", "status", "--folds", "3", "--json"])
    assert all(f["linear_weight"] == 0.0 for f in json.loads(capsys.readouterr().out)["per_fold"])
