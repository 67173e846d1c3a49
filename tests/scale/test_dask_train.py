"""Distributed training on a 2-worker LocalCluster: same pipeline and parameters, a model that serialises as a local one."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from credit_points.pd_model.classifier import PDClassifier
from credit_points.pipelines.dask_train import _log_loss_by_iteration, early_stopping_iteration

# Parameters that differ by construction between a serial and a data-parallel LightGBM run: the learner,
# the network, the iterations early stopping kept, and the monotone method (LightGBM uses "basic" when
# distributed; "intermediate" is serial only).
DISTRIBUTED_ONLY = (
    "tree_learner",
    "num_machines",
    "machines",
    "local_listen_port",
    "num_iterations",
    "monotone_constraints_method",
)


def _parameters(model_text: str) -> dict[str, str]:
    block = model_text.split("parameters:", 1)[1].split("end of parameters", 1)[0]
    out = {}
    for line in block.strip().splitlines():
        name, _, value = line.strip("[]").partition(": ")
        out[name] = value
    return out


@pytest.fixture(scope="module")
def fits(trained_model):
    from credit_points.pd_model.config import load_pd_config
    from credit_points.pd_model.training import fit_pd_model
    from credit_points.pipelines.common import load_applicants, score_points_by_cohort
    from credit_points.pipelines.dask_score import dask_client
    from credit_points.pipelines.dask_train import fit_pd_model_dask
    from credit_points.points.config import load_points_config

    frame = load_applicants(trained_model.data_dir, require_outcome=True).frame.reset_index(drop=True)
    points, _ = score_points_by_cohort(frame, load_points_config("torch-18"))
    joined = pd.concat([frame, points], axis=1)
    config = load_pd_config("default")
    local = fit_pd_model(joined, config)
    with dask_client(n_workers=2, processes=False) as client:
        distributed = fit_pd_model_dask(joined, config, client=client)
    return local, distributed


@pytest.mark.slow
def test_given_the_same_data_when_trained_on_dask_then_the_pipeline_and_parameters_are_the_local_ones(
    fits,
) -> None:
    local, distributed = fits
    # Then the booster was trained data-parallel on both workers
    params = _parameters(distributed.model.booster_.model_to_string())
    assert params["num_machines"] == "2" and params["tree_learner"] == "data"
    assert distributed.extra["engine"] == "dask" and distributed.extra["dask_workers"] == 2
    # And with the local parameters, monotone constraints included
    local_params = _parameters(local.model.booster_.model_to_string())
    same = {k: v for k, v in local_params.items() if k not in DISTRIBUTED_ONLY}
    assert {k: params[k] for k in same} == same
    # And the rest of the pipeline ran unchanged: split, selection, calibration, challenger, validation pack
    assert np.array_equal(distributed.split.test, local.split.test)
    assert distributed.selection.keys() == local.selection.keys()
    assert distributed.validation.keys() == local.validation.keys()
    assert distributed.challenger_validation["metrics"]["auc"] == pytest.approx(
        local.challenger_validation["metrics"]["auc"], abs=0
    )


@pytest.mark.slow
def test_given_a_dask_fit_then_it_serialises_and_predicts_as_a_plain_local_model(fits) -> None:
    _, distributed = fits
    model = distributed.model
    assert type(model) is PDClassifier
    again = PDClassifier.from_dict(model.to_dict())
    X = distributed.X_oot.to_numpy()
    assert np.array_equal(again.raw_score(X), model.raw_score(X))
    contrib, base = again.contributions(X[:50])
    assert np.allclose(base + contrib.sum(axis=1), again.raw_score(X[:50]), atol=1e-9)


@pytest.mark.slow
def test_given_the_same_data_when_trained_on_dask_then_oot_accuracy_matches_the_local_fit(fits) -> None:
    local, distributed = fits
    # The OOT slice here holds ~540 rows and ~14 defaults: refitting the local model with another seed
    # alone moves its AUC by up to ~0.012 (measured), so the 0.005 bound is checked on 300,000 firm-years in
    # benchmarks/bench_train.py --dask (measured gap 0.00003); here the two fits must rank the OOT firms alike.
    gap = abs(distributed.metrics["auc"] - local.metrics["auc"])
    assert gap <= 0.02, (distributed.metrics["auc"], local.metrics["auc"])
    rho = spearmanr(distributed.prob_default_oot, local.prob_default_oot).statistic
    assert rho >= 0.9


def test_given_a_loss_curve_then_the_kept_iteration_is_the_one_lightgbm_early_stopping_keeps() -> None:
    # Given a LightGBM run with early stopping on a validation set (the independent reference)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 5))
    y = (rng.random(3000) < 1 / (1 + np.exp(-(X[:, 0] - 0.5 * X[:, 1])))).astype(float)
    params = {
        "objective": "binary",
        "learning_rate": 0.3,
        "num_leaves": 15,
        "verbosity": -1,
        "num_threads": 1,
        "seed": 0,
    }
    train, valid = lgb.Dataset(X[:2000], label=y[:2000]), lgb.Dataset(X[2000:], label=y[2000:])
    record: dict[str, dict[str, list[float]]] = {}
    stopped = lgb.train(
        params, train, num_boost_round=300, valid_sets=[valid], valid_names=["v"],
        callbacks=[lgb.early_stopping(10, verbose=False), lgb.record_evaluation(record)],
    )  # fmt: skip
    full = lgb.train(params, lgb.Dataset(X[:2000], label=y[:2000]), num_boost_round=300)

    # When the stopping rule is applied afterwards to the full run's per-iteration losses
    losses = _log_loss_by_iteration(full, X[2000:], y[2000:])

    # Then the losses are LightGBM's own and the kept iteration is LightGBM's best iteration
    n = len(record["v"]["binary_logloss"])
    assert np.allclose(losses[:n], record["v"]["binary_logloss"], rtol=0, atol=1e-9)
    assert early_stopping_iteration(losses, 10) == stopped.best_iteration
