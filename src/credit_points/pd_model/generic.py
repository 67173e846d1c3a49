"""The PD model on any tabular credit data: column typing, category codes, target reading, cross-validation.

A bank's file has no feature list: numeric columns (and text columns whose values parse as numbers) are
used as they are, NaN where missing; other columns are categories, coded by the training fold's categories
(most frequent ``max_categories`` kept, the rest "other"; unseen and missing values are NaN and go to
LightGBM's and the scorecard's missing branch). Everything — typing, codes, WoE bins, booster, selection,
calibration — is fitted inside each training fold; the held-out fold is only scored.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.classifier import PDClassifier
from credit_points.pd_model.config import GenericDataConfig, PDModelConfig
from credit_points.pd_model.scorecard import WoEScorecard
from credit_points.pd_model.validation import auc_with_ci, brier, ks_statistic

_NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9


def resolve_target(
    series: pd.Series, bad_value: Any = None, bad_labels: tuple[str, ...] = ()
) -> tuple[np.ndarray, str]:
    """The 0/1 default indicator of a target column (NaN where the target is missing) and the bad label.

    Args:
        series: the target column (numbers or strings).
        bad_value: the value meaning default; compared as numbers when both parse, else as trimmed text.
        bad_labels: labels read as default when ``bad_value`` is None (case-insensitive).

    Raises:
        DataValidationError: the column does not have exactly two values, or ``bad_value`` never occurs.

    Examples:
        >>> y, bad = resolve_target(pd.Series(["good", "bad", "good"]), None, ("bad",))
        >>> y.tolist(), bad
        ([0.0, 1.0, 0.0], 'bad')
        >>> resolve_target(pd.Series([1, 2, 2]), 2)[0].tolist()
        [0.0, 1.0, 1.0]
    """
    name = str(series.name)
    present = series.notna().to_numpy()
    text = (
        series.astype(object).where(series.notna(), None).map(lambda v: None if v is None else str(v).strip())
    )
    numeric = pd.to_numeric(series, errors="coerce")
    distinct = sorted({v for v in text[present]})
    if bad_value is not None:
        bad_num = pd.to_numeric(pd.Series([bad_value]), errors="coerce").iloc[0]
        if pd.notna(bad_num) and numeric[present].notna().all():
            hit = (numeric == bad_num).to_numpy()
        else:
            hit = (text == str(bad_value).strip()).to_numpy()
        if not hit[present].any():
            raise DataValidationError(
                f"bad value {bad_value!r} never occurs; values are {distinct[:10]}",
                field=name,
                value=bad_value,
            )
        label = str(bad_value)
    else:
        if len(distinct) != 2:
            raise DataValidationError(
                f"target needs exactly two values (give --bad-value to pick the default one); got {distinct[:10]}",
                field=name,
            )
        lowered = {v.lower(): v for v in distinct}
        named = [lowered[b] for b in bad_labels if b in lowered]
        if numeric[present].notna().all() and set(numeric[present].unique()) == {0, 1}:
            label = distinct[[float(v) for v in distinct].index(1.0)]
        elif named:
            label = named[0]
        else:
            counts = text[present].value_counts()
            label = min(distinct, key=lambda v: (counts[v], v))
        hit = (text == label).to_numpy()
    y = np.where(present, hit.astype("float64"), np.nan)
    return y, label


class TabularEncoder:
    """Column typing and category codes learnt on a training fold; ``transform`` gives float64 + cat indices.

    Examples:
        >>> enc = TabularEncoder().fit(pd.DataFrame({"a": [1.0, None], "b": ["x", "y"], "c": ["1", "2"]}))
        >>> enc.categorical_indices, enc.transform(pd.DataFrame({"a": [2.0], "b": ["z"], "c": ["3"]})).tolist()
        ([1], [[2.0, nan, 3.0]])
    """

    def __init__(self, numeric_parse_share: float = 0.95, max_categories: int = 100) -> None:
        self.numeric_parse_share = numeric_parse_share
        self.max_categories = max_categories

    def fit(self, frame: pd.DataFrame) -> TabularEncoder:
        """Decide each column's kind and learn the category codes."""
        self.columns_ = [str(c) for c in frame.columns]
        self.kinds_: dict[str, str] = {}
        self.codes_: dict[str, dict[str, float]] = {}
        for col in frame.columns:
            s = frame[col]
            if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
                self.kinds_[str(col)] = "numeric"
            elif pd.api.types.is_datetime64_any_dtype(s.dtype):
                self.kinds_[str(col)] = "date"
            else:
                parsed = pd.to_numeric(s, errors="coerce")
                present = int(s.notna().sum())
                if present and parsed.notna().sum() >= self.numeric_parse_share * present:
                    self.kinds_[str(col)] = "numeric"
                else:
                    self.kinds_[str(col)] = "category"
                    counts = s.dropna().astype(str).value_counts()
                    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                    kept = (
                        sorted(v for v, _ in ranked[: self.max_categories - 1])
                        if len(ranked) > self.max_categories
                        else sorted(counts.index)
                    )
                    codes = {v: float(i) for i, v in enumerate(kept)}
                    if len(ranked) > self.max_categories:
                        codes["\x00other"] = float(len(kept))
                    self.codes_[str(col)] = codes
        return self

    @property
    def categorical_indices(self) -> list[int]:
        """Positions of the category columns."""
        return [i for i, c in enumerate(self.columns_) if self.kinds_[c] == "category"]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """A float64 matrix in the fitted column order."""
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise DataValidationError(f"column(s) seen in training are missing: {missing}", field=missing[0])
        out = np.empty((len(frame), len(self.columns_)), dtype="float64")
        for j, col in enumerate(self.columns_):
            s = frame[col]
            kind = self.kinds_[col]
            if kind == "numeric":
                out[:, j] = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            elif kind == "date":
                dates = pd.to_datetime(s, errors="coerce")
                ns = dates.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
                ns[dates.isna().to_numpy()] = np.nan
                out[:, j] = ns / _NS_PER_YEAR
            else:
                codes = self.codes_[col]
                other = codes.get("\x00other", np.nan)
                text = s.astype(object).where(s.notna(), None)
                mapped = text.map(lambda v, c=codes, o=other: np.nan if v is None else c.get(str(v), o))
                out[:, j] = mapped.to_numpy(dtype="float64", na_value=np.nan)
        return out


class GenericPDModel:
    """Encoder + the product's PD classifier (booster, scorecard challenger, selection, calibration)."""

    def __init__(self, config: GenericDataConfig, selection: Any, scorecard: Any, seed: int = 0) -> None:
        self.config = config
        self.selection = selection
        self.scorecard = scorecard
        self.seed = seed

    def fit(self, frame: pd.DataFrame, y01: np.ndarray) -> GenericPDModel:
        """Fit everything on ``frame`` (the training fold only)."""
        self.encoder_ = TabularEncoder(self.config.numeric_parse_share, self.config.max_categories).fit(frame)
        X = self.encoder_.transform(frame)
        cats = tuple(self.encoder_.categorical_indices) or None
        lgbm = self.config.lightgbm
        scorecard = WoEScorecard(
            max_n_bins=self.scorecard.max_n_bins,
            min_bin_size=self.scorecard.min_bin_size,
            monotonic_trend=self.scorecard.monotonic_trend,
            min_iv=self.scorecard.min_iv,
            C=self.scorecard.C,
        )
        self.classifier_ = PDClassifier(
            num_leaves=lgbm.num_leaves,
            max_depth=lgbm.max_depth,
            n_estimators=lgbm.n_estimators,
            learning_rate=lgbm.learning_rate,
            min_child_samples=lgbm.min_child_samples,
            subsample=lgbm.subsample,
            subsample_freq=lgbm.subsample_freq,
            colsample_bytree=lgbm.colsample_bytree,
            reg_lambda=lgbm.reg_lambda,
            reg_alpha=lgbm.reg_alpha,
            max_bin=lgbm.max_bin,
            categorical_features=cats,
            early_stopping_rounds=lgbm.early_stopping_rounds,
            scorecard=scorecard,
            linear=self.selection.linear_candidate(self.seed),
            blend_weights=tuple(self.selection.weights),
            inner_folds=self.selection.inner_folds,
            selection_metric=self.selection.metric,
            num_threads=lgbm.num_threads,
            deterministic=lgbm.deterministic,
            random_state=self.seed,
        ).fit(X, y01)
        return self

    def predict_pd(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated PD of each row."""
        return self.classifier_.predict_pd(self.encoder_.transform(frame))


def _cv_fold(
    k: int,
    train: pd.DataFrame,
    y_train: np.ndarray,
    test: pd.DataFrame,
    y_test: np.ndarray,
    config: PDModelConfig,
    seed: int,
) -> dict[str, Any]:
    """One fold of :func:`cross_validate_pd`: fit on ``train``, measure on ``test``."""
    model = GenericPDModel(config.generic, config.selection, config.scorecard, seed=seed).fit(train, y_train)
    p = model.predict_pd(test)
    return {
        "fold": k,
        "auc": auc_with_ci(y_test, p)["auc"],
        "ks": ks_statistic(y_test, p),
        "brier": brier(y_test, p),
        "blend_weight": float(model.classifier_.blend_weight_),
        "linear_weight": float(model.classifier_.linear_weight_),
        "n_test": int(len(y_test)),
    }


def cross_validate_pd(
    frame: pd.DataFrame,
    target: str,
    *,
    bad_value: Any = None,
    folds: int = 5,
    seed: int = 0,
    config: PDModelConfig,
    jobs: int | None = None,
) -> dict[str, Any]:
    """Stratified k-fold cross-validation of the product's full model selection on any tabular data.

    Args:
        frame: the data, the target column included.
        target: the target column.
        bad_value: the target value meaning default (see :func:`resolve_target`).
        folds: ``StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)``.
        seed: fold and model seed.
        config: the PD configuration (its ``generic``, ``scorecard`` and ``selection`` sections).
        jobs: folds fitted at once, each in its own process (default: one per core, at most ``folds``);
            every fold is deterministic, so the result does not depend on it.

    Returns:
        ``{"auc", "ks", "brier"}`` (means over folds), ``"folds"`` (their number), ``"per_fold"`` (AUC, KS,
        Brier, booster and linear weights per fold), ``"n"``, ``"bad_rate"``, ``"bad_label"``, ``"dropped_missing_target"``.
    """
    if target not in frame.columns:
        raise DataValidationError(
            f"target column {target!r} is not in the data; columns: {list(frame.columns)[:20]}", field=target
        )
    y_all, label = resolve_target(frame[target], bad_value, config.generic.bad_labels)
    keep = ~np.isnan(y_all)
    data = frame.loc[keep].drop(columns=[target]).reset_index(drop=True)
    y = y_all[keep]
    if min(int(y.sum()), int(len(y) - y.sum())) < folds:
        raise DataValidationError(f"too few defaults or non-defaults for {folds} folds", field=target)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(data, y))
    n_jobs = min(folds, os.cpu_count() or 1) if jobs is None else max(1, min(int(jobs), folds))
    per_fold = Parallel(n_jobs=n_jobs)(
        delayed(_cv_fold)(k, data.iloc[tr], y[tr], data.iloc[te], y[te], config, seed)
        for k, (tr, te) in enumerate(splits)
    )
    return {
        "auc": float(np.mean([f["auc"] for f in per_fold])),
        "ks": float(np.mean([f["ks"] for f in per_fold])),
        "brier": float(np.mean([f["brier"] for f in per_fold])),
        "folds": int(folds),
        "per_fold": per_fold,
        "n": int(len(y)),
        "bad_rate": float(y.mean()),
        "bad_label": label,
        "dropped_missing_target": int((~keep).sum()),
    }
