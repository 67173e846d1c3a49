"""The PD classifier: LightGBM with monotone constraints and a Platt calibrator, as a scikit-learn estimator.

``PDClassifier`` trains a LightGBM booster on the training data and fits ``raw = a * margin + b`` on
calibration data the booster did not see (an explicit ``X_calib`` or, if none is given, a stratified
hold-out of ``calib_fraction``). PD = sigmoid(raw). Because the calibrator is affine in the booster margin,
LightGBM's own TreeSHAP contributions scaled by ``a`` (with base ``a * base + b``) add up exactly to the
calibrated raw score.

Model selection (the "product must not lose to a scorecard" rule): given a ``scorecard`` (a
:class:`~credit_points.pd_model.scorecard.WoEScorecard`) and ``blend_weights``, ``fit`` runs
``inner_folds`` stratified folds *inside the training data*, collects out-of-fold booster margins and
scorecard log-odds, and picks the weight ``w`` of the booster in ``margin = w · booster + (1 − w) ·
scorecard`` with the best out-of-fold ``selection_metric`` (``w = 0`` is the pure scorecard, ``w = 1`` the
pure booster). Both parts are then refitted on all training rows; the calibrator is fitted on ``X_calib``
or, without one, on the out-of-fold blended margins (cross-fitting: each row's margin comes from models
that did not see it). The scorecard's contributions ``coef · WoE`` are exactly additive too, so the blend
keeps ``base + Σ contributions = raw score``.

With a ``linear`` candidate too (:class:`~credit_points.pd_model.linear.LinearPD`: sign-constrained
logistic regression on standardised numerics and one-hot codes), the selection is over the three parts'
out-of-fold log-odds: ``margin = w · booster + s · scorecard + l · linear`` with ``w`` and ``s`` from
``blend_weights`` and ``l = 1 − w − s ≥ 0``, or (``stack``) the weights of the constrained logistic stack
of the three (:func:`~credit_points.pd_model.calibration.fit_stack`: non-negative coefficients,
normalised to sum to one), whichever scores best out of fold; the linear part's contributions ``coef · (t(x) − mean t)`` are
additive as well. Without it the selection and every fitted bit are what they were. The model serialises to a JSON-safe dict holding LightGBM's native model text; no
pickle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split
from sklearn.utils.validation import check_is_fitted, validate_data

from credit_points.exceptions import ModelError
from credit_points.pd_model.calibration import fit_platt, fit_stack, sigmoid
from credit_points.pd_model.target import (
    check_sample_weight,
    encode_binary_target,
    json_params,
    params_from_json,
)

SERIAL_FORMAT = "credit-points/pd-classifier"
SERIAL_VERSION = 1


class PDClassifier(ClassifierMixin, BaseEstimator):
    """Monotone LightGBM + Platt calibration on the booster margin.

    Args:
        num_leaves, max_depth, n_estimators, learning_rate, min_child_samples, subsample, subsample_freq,
            colsample_bytree, reg_lambda, reg_alpha, max_bin: LightGBM parameters (sklearn-style names).
        monotone_constraints: one of -1/0/+1 per feature (+1: PD never decreases as the feature grows).
        categorical_features: column indices LightGBM treats as categorical (integer codes, NaN missing).
        early_stopping_rounds: used only when ``fit`` gets ``X_valid``/``y_valid``.
        calib_fraction: stratified hold-out for the calibrator when ``fit`` gets no ``X_calib``.
        min_slope: the calibrator's slope is kept at or above this (monotone in the margin).
        scorecard: an unfitted challenger (``WoEScorecard``) for selection/blending; ``None``: booster only.
        linear: an unfitted ``LinearPD``, a third candidate of the selection (needs ``scorecard``).
        stack: with ``linear``, also offer the non-negative logistic stack of the three out-of-fold
            log-odds (weights off the grid) to the selection.
        blend_weights: candidate booster weights in [0, 1] (with ``scorecard``).
        inner_folds: stratified folds of the training data used for selection.
        selection_metric: ``log_loss``, ``brier`` or ``auc`` of the out-of-fold calibrated blend.
        num_threads: LightGBM threads (explicit: shared boosters and busy neighbours).
        deterministic: LightGBM ``deterministic`` (with ``force_row_wise``): same data ⇒ same model text.
        random_state: seed of LightGBM and of the calibration hold-out.
        config_hash: the PD configuration hash, carried into ``to_dict``.

    Fitted attributes:
        booster_: the ``lightgbm.Booster``; calib_a_, calib_b_: calibrator slope and intercept;
        classes_, n_features_in_, feature_names_in_ (when fitted on a DataFrame), best_iteration_;
        scorecard_ (fitted challenger or None), blend_weight_ (weight of the booster), selection_ (list of
        ``{weight, log_loss, brier, auc}`` out-of-fold, empty without selection; with ``linear`` also
        ``scorecard_weight`` and ``linear_weight``), linear_ (fitted when selected, else None),
        linear_weight_ (its weight; the scorecard's is ``1 − blend_weight_ − linear_weight_``).

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(600, 3))
        >>> y = (rng.random(600) < 1 / (1 + np.exp(-2 * X[:, 0]))).astype(int)
        >>> clf = PDClassifier(n_estimators=30, min_child_samples=20, monotone_constraints=(1, 0, 0)).fit(X, y)
        >>> raw = clf.raw_score(X[:5]); contrib, base = clf.contributions(X[:5])
        >>> bool(np.allclose(base + contrib.sum(axis=1), raw, atol=1e-9))
        True
    """

    def __init__(
        self,
        *,
        num_leaves: int = 15,
        max_depth: int = -1,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        subsample_freq: int = 1,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        reg_alpha: float = 0.0,
        max_bin: int = 255,
        monotone_constraints: tuple[int, ...] | None = None,
        categorical_features: tuple[int, ...] | None = None,
        early_stopping_rounds: int | None = None,
        calib_fraction: float = 0.25,
        min_slope: float = 1e-3,
        scorecard: Any = None,
        linear: Any = None,
        stack: bool = True,
        blend_weights: tuple[float, ...] | None = None,
        inner_folds: int = 3,
        selection_metric: str = "log_loss",
        num_threads: int = 1,
        deterministic: bool = True,
        random_state: int = 0,
        config_hash: str | None = None,
    ) -> None:
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.max_bin = max_bin
        self.monotone_constraints = monotone_constraints
        self.categorical_features = categorical_features
        self.early_stopping_rounds = early_stopping_rounds
        self.calib_fraction = calib_fraction
        self.min_slope = min_slope
        self.scorecard = scorecard
        self.linear = linear
        self.stack = stack
        self.blend_weights = blend_weights
        self.inner_folds = inner_folds
        self.selection_metric = selection_metric
        self.num_threads = num_threads
        self.deterministic = deterministic
        self.random_state = random_state
        self.config_hash = config_hash

    # ----------------------------------------------------------------------------------------- config
    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> PDClassifier:
        """A classifier with the LightGBM, calibration and monotone settings of a ``PDModelConfig``."""
        lgbm = config.lightgbm
        params: dict[str, Any] = {
            "num_leaves": lgbm.num_leaves,
            "max_depth": lgbm.max_depth,
            "n_estimators": lgbm.n_estimators,
            "learning_rate": lgbm.learning_rate,
            "min_child_samples": lgbm.min_child_samples,
            "subsample": lgbm.subsample,
            "subsample_freq": lgbm.subsample_freq,
            "colsample_bytree": lgbm.colsample_bytree,
            "reg_lambda": lgbm.reg_lambda,
            "reg_alpha": lgbm.reg_alpha,
            "max_bin": lgbm.max_bin,
            "monotone_constraints": tuple(config.monotone_constraints),
            "early_stopping_rounds": lgbm.early_stopping_rounds,
            "min_slope": config.calibration.min_slope,
            "num_threads": lgbm.num_threads,
            "deterministic": lgbm.deterministic,
            "random_state": lgbm.seed,
            "config_hash": config.content_hash,
            "blend_weights": tuple(config.selection.weights),
            "inner_folds": config.selection.inner_folds,
            "selection_metric": config.selection.metric,
        }
        if any(w < 1.0 for w in config.selection.weights):
            from credit_points.pd_model.scorecard import WoEScorecard

            params["scorecard"] = WoEScorecard.from_config(config)
        if config.selection.linear and "scorecard" in params:
            params["linear"] = config.selection.linear_candidate(lgbm.seed)
        params.update(overrides)
        return cls(**params)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    def lgb_params(self, n_features: int) -> dict[str, Any]:
        """The native LightGBM parameter dict used for training."""
        params: dict[str, Any] = {
            "objective": "binary",
            "boosting_type": "gbdt",
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": self.subsample_freq,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "lambda_l1": self.reg_alpha,
            "max_bin": self.max_bin,
            "num_threads": self.num_threads,
            "deterministic": self.deterministic,
            "force_row_wise": True,
            "seed": self.random_state,
            "verbosity": -1,
        }
        if self.monotone_constraints is not None:
            mono = [int(m) for m in self.monotone_constraints]
            if len(mono) != n_features:
                raise ValueError(
                    f"monotone_constraints has {len(mono)} entries for {n_features} features; got {mono}"
                )
            bad = [m for m in mono if m not in (-1, 0, 1)]
            if bad:
                raise ValueError(f"monotone_constraints must be -1, 0 or 1; got {bad}")
            if self.categorical_features:
                clash = [i for i in self.categorical_features if mono[i] != 0]
                if clash:
                    raise ValueError(f"categorical features cannot be monotone; got indices {clash}")
            if any(mono):
                params["monotone_constraints"] = mono
                params["monotone_constraints_method"] = "intermediate"
        return params

    # -------------------------------------------------------------------------------------------- fit
    def fit(
        self,
        X: Any,
        y: Any,
        X_calib: Any = None,
        y_calib: Any = None,
        X_valid: Any = None,
        y_valid: Any = None,
        *,
        sample_weight: Any = None,
        calib_weight: Any = None,
        groups: Any = None,
        fold_weights: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> PDClassifier:
        """Fit the booster on ``(X, y)`` and the calibrator on data the booster did not see.

        Args:
            X: features (numeric; NaN allowed), a DataFrame or an array.
            y: binary labels; the PD is the probability of ``classes_[1]``.
            X_calib: calibration features; if omitted, a stratified ``calib_fraction`` of ``X`` is held out.
            y_calib: calibration labels.
            X_valid: optional early-stopping data (with ``early_stopping_rounds``); never the test fold.
            y_valid: its labels.
            sample_weight: a non-negative weight per row of ``X`` (reject inference: inverse booking
                probabilities, or the inferred outcomes of applicants never booked); a row of weight 2
                counts as two rows in the booster, the scorecard, the selection and the calibration.
            calib_weight: the same for the rows of ``X_calib``.
            groups: rows that are one applicant (the two weighted copies of an applicant without an outcome)
                share a group, and the selection's folds keep a group together.
            fold_weights: given a selection fold's training rows, every row's weight as helpers fitted on
                those rows alone make it (reject inference that learns outcomes); the fold trains and is
                scored with them instead of ``sample_weight``.

        Returns:
            self.
        """
        X_arr, y_arr = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan", reset=True)
        self.classes_, y01 = encode_binary_target(y_arr)
        if len(y01) != X_arr.shape[0]:
            raise ValueError(f"X has {X_arr.shape[0]} rows but y has {len(y01)}")
        weight = check_sample_weight(sample_weight, len(y01), y01)
        self.selection_: list[dict[str, float]] = []
        self.scorecard_: Any = None
        self.linear_: Any = None
        self.blend_weight_ = 1.0
        self.linear_weight_ = 0.0
        if self.scorecard is not None and self.blend_weights:
            return self._fit_with_selection(
                X_arr, y01, X_calib, y_calib, weight, calib_weight, groups, fold_weights
            )
        wc = None
        if X_calib is None:
            Xc = None
            w_fit = weight
            if self.calib_fraction > 0 and min(np.bincount(y01.astype(int))) >= 2:
                rows = np.arange(len(y01))
                fit_rows, calib_rows = train_test_split(
                    rows, test_size=self.calib_fraction, stratify=y01, random_state=self.random_state
                )
                X_fit, Xc, y_fit, yc = X_arr[fit_rows], X_arr[calib_rows], y01[fit_rows], y01[calib_rows]
                if weight is not None:
                    w_fit, wc = weight[fit_rows], weight[calib_rows]
            else:
                X_fit, y_fit = X_arr, y01
        else:
            X_fit, y_fit, w_fit = X_arr, y01, weight
            Xc = self._as_matrix(X_calib, fitted=False)
            yc = self._encode_other(y_calib)
            wc = check_sample_weight(calib_weight, len(yc))
        booster = self._train(X_fit, y_fit, X_valid, y_valid, weight=w_fit)
        self.booster_ = booster
        if Xc is not None:
            margin = np.asarray(
                booster.predict(Xc, raw_score=True, num_threads=self.num_threads), dtype="float64"
            )
            self.calib_a_, self.calib_b_ = fit_platt(margin, yc, min_slope=self.min_slope, sample_weight=wc)
        else:
            self.calib_a_, self.calib_b_ = 1.0, 0.0
        return self

    def _fit_with_selection(
        self,
        X: np.ndarray,
        y01: np.ndarray,
        X_calib: Any,
        y_calib: Any,
        sample_weight: np.ndarray | None = None,
        calib_weight: Any = None,
        groups: Any = None,
        fold_weights: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> PDClassifier:
        sw = sample_weight
        weights = [float(w) for w in self.blend_weights or ()]
        bad = [w for w in weights if not 0.0 <= w <= 1.0]
        if bad:
            raise ValueError(f"blend_weights must lie in [0, 1]; got {bad}")
        if groups is None:
            splits = list(
                StratifiedKFold(
                    n_splits=self.inner_folds, shuffle=True, random_state=self.random_state
                ).split(X, y01)
            )
        else:
            group_ids = np.asarray(groups).ravel()
            if len(group_ids) != len(y01):
                raise ValueError(f"groups has {len(group_ids)} values for {len(y01)} rows")
            splits = list(
                StratifiedGroupKFold(
                    n_splits=self.inner_folds, shuffle=True, random_state=self.random_state
                ).split(X, y01, group_ids)
            )
        oof_margin = np.zeros(len(y01))
        oof_sc = np.zeros(len(y01))
        # the linear candidate's (C, transform) candidates, each scored out of fold on these same folds
        lin_oof: dict[Any, np.ndarray] | None = None
        best_iters = []
        oof_weight = sw if fold_weights is None else np.zeros(len(y01))
        for tr, va in splits:
            fw = sw if fold_weights is None else check_sample_weight(fold_weights(tr), len(y01))
            w_tr, w_va = (None, None) if fw is None else (fw[tr], fw[va])
            if fold_weights is not None:
                oof_weight[va] = fw[va]  # type: ignore[index]
            booster = self._train(
                X[tr], y01[tr], X[va], y01[va], encoded=True, weight=w_tr, valid_weight=w_va
            )
            best_iters.append(self.best_iteration_)
            oof_margin[va] = booster.predict(X[va], raw_score=True, num_threads=self.num_threads)
            sc = self._scorecard_clone()
            oof_sc[va] = sc.fit(X[tr], y01[tr], sample_weight=w_tr).raw_score(X[va])
            if self.linear is not None:
                scores = self._linear_clone().candidate_scores(X[tr], y01[tr], X[va], sample_weight=w_tr)
                lin_oof = lin_oof or {c: np.zeros(len(y01)) for c in scores}
                for c, raw in scores.items():
                    lin_oof[c][va] = raw
        oof_lin, lin_table, lin_best = None, [], None
        if lin_oof is not None:
            lin_table = self.linear.selection_table(lin_oof, y01, oof_weight)
            best_row = min(lin_table, key=lambda r: r["log_loss"])
            lin_best = (best_row["C"], best_row.get("transform", "linear"))
            oof_lin = lin_oof[lin_best]
        table = []
        candidates = self._candidate_weights(weights)
        stacked, stack_scores = None, np.zeros((len(y01), 3))
        if oof_lin is not None and self.stack:
            # the constrained logistic stack of the three out-of-fold log-odds: the weights off the grid
            stack_scores = np.column_stack([oof_margin, oof_sc, oof_lin])
            stacked = self._stack_weights(stack_scores, y01, oof_weight)
            if stacked is not None and stacked not in candidates:
                candidates.append(stacked)
        for w, s_w, l_w in candidates:
            if oof_lin is None:
                z = w * oof_margin + (1.0 - w) * oof_sc  # as before the linear candidate: same bits
            else:
                z = w * oof_margin + s_w * oof_sc + l_w * oof_lin
            a, b = fit_platt(z, y01, min_slope=self.min_slope, sample_weight=oof_weight)
            p = np.clip(sigmoid(a * z + b), 1e-12, 1 - 1e-12)
            extra: dict[str, Any] = {} if oof_lin is None else {"scorecard_weight": s_w, "linear_weight": l_w}
            if stacked is not None and (w, s_w, l_w) == stacked:
                # the stack's weights were fitted on these very scores: judge it on rows it did not see,
                # the stack refitted without each selection fold and applied to it
                extra["stacked"] = True
                held = np.zeros(len(y01))
                for tr, va in splits:
                    c_f, b_f = fit_stack(
                        stack_scores[tr],
                        y01[tr],
                        sample_weight=None if oof_weight is None else oof_weight[tr],
                    )
                    held[va] = stack_scores[va] @ c_f + b_f
                p = np.clip(sigmoid(held), 1e-12, 1 - 1e-12)
                z = held
            table.append(
                {
                    "weight": w,
                    **extra,
                    "log_loss": float(
                        -np.average(y01 * np.log(p) + (1 - y01) * np.log(1 - p), weights=oof_weight)
                    ),
                    "brier": float(np.average((p - y01) ** 2, weights=oof_weight)),
                    "auc": float(roc_auc_score(y01, z, sample_weight=oof_weight)),
                    "a": a,
                    "b": b,
                }
            )
        key = self.selection_metric
        if key not in ("log_loss", "brier", "auc"):
            raise ValueError(f"selection_metric must be log_loss, brier or auc; got {key!r}")
        sign = -1.0 if key == "auc" else 1.0
        best = min(table, key=lambda r: sign * r[key])
        self.selection_ = [{k: v for k, v in r.items() if k not in ("a", "b")} for r in table]
        self.blend_weight_ = float(best["weight"])
        self.linear_weight_ = float(best.get("linear_weight", 0.0))
        if self.linear_weight_ > 0.0 and lin_best is not None:
            self.linear_ = self._linear_clone().fit_candidate(
                X, y01, *lin_best, sample_weight=sw, selection=lin_table
            )
        n_final = int(round(float(np.mean(best_iters)))) if self.early_stopping_rounds else self.n_estimators
        self.booster_ = self._train(X, y01, None, None, encoded=True, n_estimators=max(n_final, 1), weight=sw)
        self.scorecard_ = self._scorecard_clone().fit(X, y01, sample_weight=sw)
        if X_calib is not None:
            Xc = self._as_matrix(X_calib)
            yc = self._encode_other(y_calib)
            wc = check_sample_weight(calib_weight, len(yc))
            self.calib_a_, self.calib_b_ = fit_platt(
                self.margin(Xc), yc, min_slope=self.min_slope, sample_weight=wc
            )
        else:
            self.calib_a_, self.calib_b_ = float(best["a"]), float(best["b"])
        return self

    def _candidate_weights(self, weights: list[float]) -> list[tuple[float, float, float]]:
        """(booster, scorecard, linear) weights: ``w`` and ``1 − w`` without a linear candidate; with one,
        every ``w``, ``s`` of the grid with ``w + s <= 1`` and ``l = 1 − w − s``."""
        if self.linear is None:
            return [(w, 1.0 - w, 0.0) for w in weights]
        out = []
        for w in weights:
            for s_w in weights:
                rest = round(1.0 - w - s_w, 12)
                if rest >= 0.0:
                    out.append((w, s_w, rest))
        return out

    @staticmethod
    def _stack_weights(
        scores: np.ndarray, y01: np.ndarray, weight: np.ndarray | None
    ) -> tuple[float, float, float] | None:
        """(booster, scorecard, linear) weights of the non-negative logistic stack of the three scores,
        normalised to sum to one and rounded to 4 decimals (None when the stack puts no weight anywhere)."""
        c, _ = fit_stack(scores, y01, sample_weight=weight)
        total = float(c.sum())
        if not total > 0.0:
            return None
        w, s_w = round(float(c[0]) / total, 4), round(float(c[1]) / total, 4)
        l_w = round(1.0 - w - s_w, 12)
        if l_w < 0.0:  # rounding pushed the first two past one
            l_w, s_w = 0.0, round(1.0 - w, 12)
        return w, s_w, l_w

    def _linear_clone(self) -> Any:
        """The linear candidate with this model's categorical columns and monotone directions."""
        return clone(self.linear).set_params(
            categorical_features=self.categorical_features, monotone_constraints=self.monotone_constraints
        )

    def _scorecard_clone(self) -> Any:
        """The challenger with this model's categorical columns and monotone directions."""
        return clone(self.scorecard).set_params(
            categorical_features=self.categorical_features, monotone_constraints=self.monotone_constraints
        )

    def _encode_other(self, y: Any) -> np.ndarray:
        y_arr = np.asarray(y).ravel()
        known = np.isin(y_arr, self.classes_)
        if not known.all():
            raise ValueError(f"labels {np.unique(y_arr[~known])[:5].tolist()} were not seen in training")
        return (y_arr == self.classes_[1]).astype("float64")

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
        params = self.lgb_params(X.shape[1])
        cats: Any = list(self.categorical_features) if self.categorical_features else "auto"
        train_set = lgb.Dataset(
            X,
            label=y01,
            weight=weight,
            categorical_feature=cats,
            free_raw_data=True,
            params={"verbosity": -1},
        )
        callbacks: list[Any] = []
        valid_sets = []
        if X_valid is not None and self.early_stopping_rounds:
            Xv = X_valid if encoded else self._as_matrix(X_valid, fitted=False)
            yv = y_valid if encoded else self._encode_other(y_valid)
            valid_sets = [
                lgb.Dataset(Xv, label=yv, weight=valid_weight, reference=train_set, categorical_feature=cats)
            ]
            callbacks.append(
                lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False)
            )
            params["metric"] = "binary_logloss"
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=n_estimators or self.n_estimators,
            valid_sets=valid_sets,
            callbacks=callbacks,
        )
        self.best_iteration_ = int(booster.best_iteration or booster.current_iteration())
        if valid_sets:
            # keep only the trees up to the best iteration so the model text is the model used
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=self.best_iteration_))
        return booster

    # ---------------------------------------------------------------------------------------- predict
    def _as_matrix(self, X: Any, *, fitted: bool = True) -> np.ndarray:
        """Features as a float64 matrix, checked against the fitted columns (fast path for float arrays)."""
        if fitted:
            check_is_fitted(self, "booster_")
        if isinstance(X, np.ndarray) and X.dtype == np.float64 and X.ndim == 2:
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but PDClassifier is expecting {self.n_features_in_} features as input."
                )
            return X
        if isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_"):
            cols = list(X.columns)
            expected = list(self.feature_names_in_)
            if cols != expected:
                missing = [c for c in expected if c not in cols]
                extra = [c for c in cols if c not in expected]
                raise ValueError(
                    "The feature names should match those that were passed during fit (same order, never "
                    f"realigned): missing {missing}, unexpected {extra}"
                    + ("" if missing or extra else "; the order differs")
                )
        return validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)

    def margin(self, X: Any) -> np.ndarray:
        """The uncalibrated margin: the booster's raw score, blended with the scorecard's log-odds if selected."""
        Xm = self._as_matrix(X)
        w = getattr(self, "blend_weight_", 1.0)
        out = (
            np.zeros(Xm.shape[0])
            if w == 0.0
            else np.asarray(
                self.booster_.predict(Xm, raw_score=True, num_threads=self.num_threads), dtype="float64"
            )
        )
        lw = getattr(self, "linear_weight_", 0.0)
        if self.scorecard_ is not None and w < 1.0:
            out = w * out + (1.0 - w - lw) * self.scorecard_.raw_score(Xm)
        if lw > 0.0:
            out = out + lw * self.linear_.raw_score(Xm)
        return out

    def raw_score(self, X: Any) -> np.ndarray:
        """Calibrated log-odds of default: ``a * margin + b``."""
        margin = self.margin(X)
        return self.calib_a_ * margin + self.calib_b_

    def predict_pd(self, X: Any) -> np.ndarray:
        """Calibrated PD, one value per row (the probability of ``classes_[1]``)."""
        return sigmoid(self.raw_score(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``[1 - PD, PD]``."""
        prob_default = self.predict_pd(X)
        return np.column_stack([1.0 - prob_default, prob_default])

    def predict(self, X: Any) -> np.ndarray:
        """The more likely class (threshold PD 0.5; credit decisions use the PD, not this)."""
        raw = self.raw_score(X)
        return self.classes_[(raw > 0).astype(int)]

    def decision_function(self, X: Any) -> np.ndarray:
        """The calibrated raw score (log-odds of ``classes_[1]``)."""
        return self.raw_score(X)

    def contributions(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """TreeSHAP contributions in calibrated log-odds, from LightGBM's ``pred_contrib``.

        Returns:
            ``(contrib, base)``: an ``n × k`` matrix and an ``n`` vector with
            ``base + contrib.sum(axis=1) == raw_score(X)`` (to rounding).
        """
        Xm = self._as_matrix(X)
        w = self.blend_weight_
        if w > 0.0:
            full = np.asarray(
                self.booster_.predict(Xm, pred_contrib=True, num_threads=self.num_threads), dtype="float64"
            )
            # a weight of exactly 1 changes no bit: skip one pass over the (rows x features) matrix
            contrib, base = (full[:, :-1], full[:, -1]) if w == 1.0 else (w * full[:, :-1], w * full[:, -1])
        else:
            contrib, base = np.zeros(Xm.shape), np.zeros(Xm.shape[0])
        lw = self.linear_weight_
        if self.scorecard_ is not None and w < 1.0:
            sc_contrib, sc_base = self.scorecard_.contributions(Xm)
            contrib = contrib + (1.0 - w - lw) * sc_contrib
            base = base + (1.0 - w - lw) * sc_base
        if lw > 0.0:
            lin_contrib, lin_base = self.linear_.contributions(Xm)
            contrib = contrib + lw * lin_contrib
            base = base + lw * lin_base
        return self.calib_a_ * contrib, self.calib_a_ * base + self.calib_b_

    # -------------------------------------------------------------------------------------- serialise
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: LightGBM model text, calibrator, feature names, classes, params, config hash."""
        check_is_fitted(self, "booster_")
        params = json_params(
            self.get_params(deep=False),
            ints=("monotone_constraints", "categorical_features"),
            floats=("blend_weights",),
        )
        for part in ("scorecard", "linear"):
            if params[part] is not None:
                params[part] = params[part].to_params()
        if params["linear"] is None:  # the stack is a setting of the linear candidate's selection only
            params.pop("stack")
        names = [str(n) for n in getattr(self, "feature_names_in_", [])] or None
        return {
            "format": SERIAL_FORMAT,
            "format_version": SERIAL_VERSION,
            "booster": self.booster_.model_to_string(),
            "calibrator": {"method": "platt", "a": float(self.calib_a_), "b": float(self.calib_b_)},
            "feature_names": names,
            "n_features": int(self.n_features_in_),
            "classes": self.classes_.tolist(),
            "best_iteration": int(self.best_iteration_),
            "blend_weight": float(self.blend_weight_),
            "scorecard": self.scorecard_.to_dict() if self.scorecard_ is not None else None,
            **(
                {"linear_weight": float(self.linear_weight_), "linear": self.linear_.to_dict()}
                if self.linear_ is not None
                else {}
            ),
            "selection": list(self.selection_),
            "params": params,
            "config_hash": self.config_hash,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PDClassifier:
        """Rebuild a fitted classifier from :meth:`to_dict` output (predicts bit-identically)."""
        if data.get("format") != SERIAL_FORMAT:
            raise ModelError(f"not a serialised PDClassifier: format {data.get('format')!r}")
        if data.get("format_version") != SERIAL_VERSION:
            raise ModelError(f"unsupported PDClassifier format_version {data.get('format_version')!r}")
        from credit_points.pd_model.scorecard import WoEScorecard

        params = params_from_json(
            data["params"], ("monotone_constraints", "categorical_features", "blend_weights")
        )
        if params.get("scorecard") is not None:
            params["scorecard"] = WoEScorecard.from_params(params["scorecard"])
        if params.get("linear") is not None:
            from credit_points.pd_model.linear import LinearPD

            params["linear"] = LinearPD.from_params(params["linear"])
        model = cls(**params)
        model.blend_weight_ = float(data.get("blend_weight", 1.0))
        model.scorecard_ = WoEScorecard.from_dict(data["scorecard"]) if data.get("scorecard") else None
        model.linear_weight_ = float(data.get("linear_weight", 0.0))
        model.linear_ = None
        if data.get("linear"):
            from credit_points.pd_model.linear import LinearPD

            model.linear_ = LinearPD.from_dict(data["linear"])
        model.selection_ = list(data.get("selection") or [])
        model.booster_ = lgb.Booster(model_str=data["booster"])
        model.calib_a_ = float(data["calibrator"]["a"])
        model.calib_b_ = float(data["calibrator"]["b"])
        model.classes_ = np.asarray(data["classes"])
        model.n_features_in_ = int(data["n_features"])
        model.best_iteration_ = int(data["best_iteration"])
        if data.get("feature_names"):
            model.feature_names_in_ = np.asarray(data["feature_names"], dtype=object)
        if model.booster_.num_feature() != model.n_features_in_:
            raise ModelError(
                f"booster has {model.booster_.num_feature()} features but the dict declares {model.n_features_in_}"
            )
        return model
