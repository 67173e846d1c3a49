"""Reject inference: learn the through-the-door population from booked loans and applicants never booked.

A model trained on booked loans alone learns the population the old policy let in. Each method here turns
the training rows of one slice (booked loans with their outcome, applicants without one) into weighted
rows with a 0/1 target, from helpers fitted once on the **training years only** (``fit``) and applied to
the training and calibration slices (``transform``); the test year is never touched.

- ``none``: the booked loans alone (the applicants without an outcome are left out).
- ``reweight``: inverse-probability weighting. A booking model (LightGBM, unconstrained) estimates
  P(booked | features) over every applicant; each booked loan weighs ``1 / P`` (capped at ``max_weight``),
  scaled to a mean of 1, so the booked loans stand for the applicants like them that were not booked.
- ``augment``: fuzzy augmentation. A booked-only model (the product's booster, calibrated) gives each
  applicant without an outcome a PD ``p``; the applicant enters twice, as a default weighted ``p`` and as
  a non-default weighted ``1 - p``.
- ``parcel``: parcelling by score band. The booked-only model's PD cuts every applicant into
  ``parcel_bands`` bands of equal size; an applicant without an outcome takes its band's observed default
  rate among booked loans times ``parcel_uplift`` (capped at 1) — the documented assumption that the
  applicants the old policy turned down default more often than the booked loans scored alike — and
  enters twice, weighted by that rate and its complement (the expectation of drawing its outcome at
  random, without the draw's noise).

Which method helps is measured, not assumed: ``benchmarks/bench_reject_inference.py`` on generated data,
where the truth of every applicant is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.config import PDModelConfig, RejectInferenceConfig

METHODS = ("none", "reweight", "augment", "parcel")


def with_reject_inference(config: PDModelConfig, method: str | None) -> PDModelConfig:
    """``config`` with its reject-inference method replaced (``None`` keeps it); an unknown method is an
    error naming the value and the choices."""
    if method is None:
        return config
    if method not in METHODS:
        raise DataValidationError(
            f"unknown reject inference method {method!r}; choose one of {', '.join(METHODS)}",
            field="reject_inference",
            value=method,
        )
    settings = config.reject_inference.model_copy(update={"method": method})
    return config.model_copy(update={"reject_inference": settings})


@dataclass
class Inferred:
    """Training rows after reject inference: features, 0/1 target, weight per row (``None``: all 1)."""

    X: pd.DataFrame
    y: np.ndarray
    weight: np.ndarray | None
    summary: dict[str, float] = field(default_factory=dict)
    #: one id per applicant (``None``: one row each): an applicant's two weighted copies share it, so that
    #: the model selection's folds never split them
    groups: np.ndarray | None = None
    #: the weights of every row recomputed from helpers fitted on a fold's training rows only (augment and
    #: parcel: the booked-only model learns outcomes); ``None`` where the weights learn no outcome
    fold_weights: Callable[[np.ndarray], np.ndarray] | None = None


class RejectInference:
    """One method, fitted on the training years' rows, applied to the training and calibration slices."""

    def __init__(self, settings: RejectInferenceConfig, pd_config: Any) -> None:
        self.settings = settings
        self.pd_config = pd_config
        self.booking_model_: Any = None
        self.booked_model_: Any = None
        self.band_edges_: np.ndarray | None = None
        self.band_rates_: np.ndarray | None = None

    @property
    def method(self) -> str:
        return self.settings.method

    def fit(self, X_booked: pd.DataFrame, y_booked: np.ndarray, X_unbooked: pd.DataFrame) -> RejectInference:
        """Fit the helpers the method needs on the training years' booked and unbooked applicants."""
        if self.method == "reweight":
            self.booking_model_ = self._booking_model(X_booked, X_unbooked)
        elif self.method in ("augment", "parcel"):
            from credit_points.pd_model.classifier import PDClassifier

            self.booked_model_ = PDClassifier.from_config(
                self.pd_config, scorecard=None, blend_weights=None
            ).fit(X_booked, y_booked)
            if self.method == "parcel":
                scores = self.booked_model_.raw_score(pd.concat([X_booked, X_unbooked], ignore_index=True))
                quantiles = np.linspace(0.0, 1.0, self.settings.parcel_bands + 1)[1:-1]
                self.band_edges_ = np.unique(np.quantile(scores, quantiles))
                bands = np.digitize(scores[: len(X_booked)], self.band_edges_)
                n_bands = len(self.band_edges_) + 1
                bad = np.bincount(bands, weights=y_booked, minlength=n_bands)
                count = np.bincount(bands, minlength=n_bands).astype("float64")
                overall = float(np.mean(y_booked))
                # a band without booked loans takes the booked loans' overall rate
                self.band_rates_ = np.where(count > 0, bad / np.maximum(count, 1.0), overall)
        return self

    def transform(self, X_booked: pd.DataFrame, y_booked: np.ndarray, X_unbooked: pd.DataFrame) -> Inferred:
        """The rows a model learns from, for one slice (training or calibration)."""
        y_booked = np.asarray(y_booked, dtype="float64")
        summary = {"booked_rows": float(len(y_booked)), "unbooked_rows": float(len(X_unbooked))}
        if self.method == "none" or (self.method != "reweight" and len(X_unbooked) == 0):
            return Inferred(X_booked, y_booked, None, summary)
        if self.method == "reweight":
            booked_p = self.booking_model_.predict_proba(X_booked.to_numpy(dtype="float64"))[:, 1]
            weight = np.minimum(1.0 / np.clip(booked_p, 1e-12, None), self.settings.max_weight)
            weight = weight / weight.mean()
            summary["max_weight"] = float(weight.max())
            summary["effective_rows"] = float(weight.sum() ** 2 / np.sum(weight**2))
            return Inferred(X_booked.reset_index(drop=True), y_booked, weight, summary)
        rate = self._rates(X_unbooked)
        summary["inferred_default_rate"] = float(np.mean(rate))
        n_b, n_u = len(y_booked), len(rate)
        X = pd.concat([X_booked, X_unbooked, X_unbooked], ignore_index=True)
        y = np.concatenate([y_booked, np.ones(n_u), np.zeros(n_u)])
        weight = np.concatenate([np.ones(n_b), rate, 1.0 - rate])
        unbooked_ids = n_b + np.arange(n_u)
        groups = np.concatenate([np.arange(n_b), unbooked_ids, unbooked_ids])
        settings, pd_config = self.settings, self.pd_config

        def fold_weights(rows: np.ndarray) -> np.ndarray:
            """Every row's weight from helpers refitted on the booked loans and applicants among ``rows``
            (a selection fold's training rows): no fold learns from another fold's outcomes."""
            inside = np.zeros(len(y), dtype=bool)
            inside[rows] = True
            booked_in = np.flatnonzero(inside[:n_b])
            unbooked_in = np.flatnonzero(inside[n_b : n_b + n_u] | inside[n_b + n_u :])
            helper = RejectInference(settings, pd_config).fit(
                X_booked.iloc[booked_in], y_booked[booked_in], X_unbooked.iloc[unbooked_in]
            )
            fold_rate = helper._rates(X_unbooked)
            return np.concatenate([np.ones(n_b), fold_rate, 1.0 - fold_rate])

        return Inferred(X, y, weight, summary, groups, fold_weights)

    def _rates(self, X_unbooked: pd.DataFrame) -> np.ndarray:
        """The inferred default rate of each applicant without an outcome (augment: the booked-only PD;
        parcel: its band's booked default rate times the uplift, capped at 1)."""
        if self.method == "augment":
            return np.asarray(self.booked_model_.predict_pd(X_unbooked), dtype="float64")
        assert self.band_edges_ is not None and self.band_rates_ is not None
        bands = np.digitize(self.booked_model_.raw_score(X_unbooked), self.band_edges_)
        return np.minimum(self.band_rates_[bands] * self.settings.parcel_uplift, 1.0)

    def _booking_model(self, X_booked: pd.DataFrame, X_unbooked: pd.DataFrame) -> Any:
        """P(booked | features) over every applicant of the training years: a small unconstrained booster."""
        import lightgbm as lgb

        lgbm = self.pd_config.lightgbm
        X = np.vstack([X_booked.to_numpy(dtype="float64"), X_unbooked.to_numpy(dtype="float64")])
        booked = np.concatenate([np.ones(len(X_booked)), np.zeros(len(X_unbooked))])
        model = lgb.LGBMClassifier(
            n_estimators=self.settings.booking_model_rounds,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=50,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=lgbm.seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=lgbm.num_threads,
            verbose=-1,
        )
        return model.fit(X, booked)

    def describe(self) -> dict[str, Any]:
        """The method and its settings, as a training run and a model card record them."""
        out: dict[str, Any] = {"method": self.method}
        if self.method == "reweight":
            out.update(
                max_weight=self.settings.max_weight, booking_model_rounds=self.settings.booking_model_rounds
            )
        elif self.method == "parcel":
            out.update(parcel_bands=self.settings.parcel_bands, parcel_uplift=self.settings.parcel_uplift)
            if self.band_rates_ is not None:
                out["band_default_rates"] = [float(r) for r in self.band_rates_]
        return out
