"""Distributed training: the PD model's booster fitted with ``lightgbm.dask`` on a Dask DataFrame.

Everything but the booster fit is the local pipeline of :func:`credit_points.pd_model.training.fit_pd_model`
(out-of-time split, features, the scorecard challenger, the blend selection on inner folds, Platt
calibration, the validation pack): :class:`DaskPDClassifier` is a :class:`~credit_points.pd_model.classifier.PDClassifier`
whose every booster (inner folds and final) is trained by ``DaskLGBMClassifier`` with the same parameters
and monotone constraints, data-parallel across the cluster's workers. The fitted model is then rebuilt as a
plain ``PDClassifier`` from its serialised form, so it is stored, hashed and served exactly like a local one
(LightGBM model text, no pickle).

Early stopping: ``lightgbm.dask`` cannot stop all workers together, so the booster trains the full
``n_estimators`` and the stopping rule of ``lightgbm.early_stopping`` (binary log loss on the validation
fold, patience ``early_stopping_rounds``) is applied afterwards to the per-iteration scores; the model is
cut at the iteration that rule picks.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from credit_points.pd_model.classifier import PDClassifier
from credit_points.pd_model.config import PDModelConfig
from credit_points.pd_model.training import FitResult, fit_pd_model

#: native LightGBM names → the scikit-learn names ``DaskLGBMClassifier`` takes for them.
_SKLEARN_NAMES = {
    "boosting_type": "boosting_type",
    "num_leaves": "num_leaves",
    "max_depth": "max_depth",
    "learning_rate": "learning_rate",
    "min_data_in_leaf": "min_child_samples",
    "bagging_fraction": "subsample",
    "bagging_freq": "subsample_freq",
    "feature_fraction": "colsample_bytree",
    "lambda_l2": "reg_lambda",
    "lambda_l1": "reg_alpha",
    "num_threads": "n_jobs",
    "seed": "random_state",
}


def early_stopping_iteration(losses: np.ndarray, rounds: int) -> int:
    """The 1-based iteration ``lightgbm.early_stopping`` keeps for a loss curve (lower is better).

    Examples:
        >>> early_stopping_iteration(np.array([0.5, 0.4, 0.41, 0.42, 0.39]), rounds=2)
        2
        >>> early_stopping_iteration(np.array([0.5, 0.4, 0.41, 0.39]), rounds=5)
        4
    """
    best, best_i = np.inf, 0
    for i, loss in enumerate(np.asarray(losses, dtype="float64")):
        if loss < best:
            best, best_i = float(loss), i
        elif i - best_i >= rounds:
            break
    return best_i + 1


def _log_loss_by_iteration(
    booster: lgb.Booster, X: np.ndarray, y01: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    """Binary log loss (weighted by ``weight``) of the first 1, 2, … n trees (each tree's raw output added
    once)."""
    n_trees = booster.current_iteration()
    margin = np.zeros(len(y01))
    losses = np.empty(n_trees)
    for i in range(n_trees):
        margin += booster.predict(X, start_iteration=i, num_iteration=1, raw_score=True)
        # log(1 + e^m) - y m, stable
        losses[i] = float(np.average(np.logaddexp(0.0, margin) - y01 * margin, weights=weight))
    return losses


class DaskPDClassifier(PDClassifier):
    """A :class:`PDClassifier` whose boosters are trained by ``lightgbm.dask`` on the attached client.

    Attach the client with :meth:`on` (it is not an estimator parameter, so ``get_params`` and the
    serialised form stay those of a ``PDClassifier``).
    """

    _client: Any = None
    _npartitions: int = 2

    def on(self, client: Any, npartitions: int | None = None) -> DaskPDClassifier:
        """Train on ``client``'s cluster, the data split in ``npartitions`` (default: one per worker)."""
        self._client = client
        workers = len(client.scheduler_info().get("workers", {})) or 1
        self._npartitions = int(npartitions or workers)
        return self

    def dask_params(self, n_features: int, n_estimators: int) -> dict[str, Any]:
        """``DaskLGBMClassifier`` keyword arguments equal to the local native parameters."""
        native = self.lgb_params(n_features)
        out: dict[str, Any] = {"n_estimators": n_estimators}
        for name, value in native.items():
            if name == "objective":
                out["objective"] = value
            else:
                out[_SKLEARN_NAMES.get(name, name)] = value
        return out

    def _to_dask(self, X: np.ndarray, y: np.ndarray | None = None) -> tuple[Any, Any]:
        import dask.dataframe as dd

        columns = [f"f{i}" for i in range(X.shape[1])]
        frame = dd.from_pandas(pd.DataFrame(X, columns=columns), npartitions=self._npartitions, sort=False)
        label = None
        if y is not None:
            label = dd.from_pandas(pd.Series(y, name="y"), npartitions=self._npartitions, sort=False)
        return frame, label

    def _train(
        self,
        X: np.ndarray,
        y01: np.ndarray,
        X_valid: Any,
        y_valid: Any,
        *,
        encoded: bool = False,
        n_estimators: int | None = None,
        weight: np.ndarray | None = None,
        valid_weight: np.ndarray | None = None,
    ) -> lgb.Booster:
        from lightgbm.dask import DaskLGBMClassifier

        if self._client is None:
            raise RuntimeError("DaskPDClassifier needs a Dask client: call .on(client) before fit")
        rounds = n_estimators or self.n_estimators
        params = self.dask_params(X.shape[1], rounds)
        if self.categorical_features:
            params["categorical_feature"] = list(self.categorical_features)
        data, label = self._to_dask(np.asarray(X, dtype="float64"), np.asarray(y01, dtype="float64"))
        sample_weight = None
        if weight is not None:
            _, sample_weight = self._to_dask(
                np.asarray(X[:, :1], dtype="float64"), np.asarray(weight, "float64")
            )
        if sample_weight is None:
            data, label = self._client.persist([data, label])
        else:
            data, label, sample_weight = self._client.persist([data, label, sample_weight])
        model = DaskLGBMClassifier(client=self._client, **params)
        model.fit(data, label, sample_weight=sample_weight)
        booster = model.booster_
        booster = lgb.Booster(model_str=booster.model_to_string())
        self.best_iteration_ = booster.current_iteration()
        if X_valid is not None and self.early_stopping_rounds:
            Xv = np.asarray(X_valid, dtype="float64") if encoded else self._as_matrix(X_valid, fitted=False)
            yv = np.asarray(y_valid, dtype="float64") if encoded else self._encode_other(y_valid)
            losses = _log_loss_by_iteration(booster, Xv, yv, valid_weight)
            self.best_iteration_ = early_stopping_iteration(losses, self.early_stopping_rounds)
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=self.best_iteration_))
        return booster


def fit_pd_model_dask(
    joined_frame: pd.DataFrame,
    pd_config: PDModelConfig,
    scheduler: str | None = None,
    *,
    client: Any = None,
    n_workers: int = 2,
    processes: bool = True,
) -> FitResult:
    """``fit_pd_model`` with the boosters trained on a Dask cluster.

    Args:
        joined_frame: applicant rows joined with their points (as for ``fit_pd_model``).
        pd_config: the PD model configuration (same parameters, seeds and monotone constraints).
        scheduler: a Dask scheduler address; default a ``LocalCluster`` of ``n_workers`` × 1 thread.
        client: an existing ``distributed.Client`` to use instead (then ``scheduler`` is ignored).
        n_workers, processes: the ``LocalCluster``'s shape when one is started.

    Returns:
        A :class:`FitResult` whose ``model`` is a plain, serialisable ``PDClassifier``; ``extra`` records
        ``engine="dask"`` and the number of workers.
    """
    from credit_points.pipelines.dask_score import dask_client

    def fit_on(active: Any) -> FitResult:
        classifier = DaskPDClassifier.from_config(pd_config).on(active)
        fit = fit_pd_model(joined_frame, pd_config, classifier=classifier)
        workers = len(active.scheduler_info().get("workers", {}))
        local = PDClassifier.from_dict(fit.model.to_dict())
        return dataclasses.replace(
            fit, model=local, extra={**fit.extra, "engine": "dask", "dask_workers": workers}
        )

    if client is not None:
        return fit_on(client)
    with dask_client(scheduler, n_workers=n_workers, processes=processes) as active:
        return fit_on(active)
