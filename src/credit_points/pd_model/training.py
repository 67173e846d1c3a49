"""Fit the PD model on a frame of record + points: split, features, model selection, calibration, OOT validation.

Pure: data in, a :class:`FitResult` out; tracking (MLflow), files and reports are the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.calibration import sigmoid
from credit_points.pd_model.classifier import PDClassifier
from credit_points.pd_model.config import PDModelConfig
from credit_points.pd_model.features import build_features, feature_order_hash
from credit_points.pd_model.master_scale import apply_pd_floor, assign_grade
from credit_points.pd_model.reject_inference import RejectInference
from credit_points.pd_model.scorecard import WoEScorecard
from credit_points.pd_model.split import SplitIndices, oot_split
from credit_points.pd_model.validation import auc_with_ci, brier, validation_pack


@dataclass
class FitResult:
    """Everything one training run produces.

    Attributes:
        model: the selected, calibrated product model (booster, scorecard or their blend).
        challenger: the WoE scorecard alone, fitted on the same training rows.
        selection: the verdict: ``chosen`` (``lightgbm`` / ``scorecard`` / ``linear`` / ``blend``),
            ``blend_weight`` (the booster's; ``linear_weight`` with the linear candidate),
            the out-of-fold ``table`` and the OOT comparison of model and challenger.
        split: the out-of-time split (positional indices into the input frame).
        validation: the OOT validation pack of the model (``validation_pack`` output).
        challenger_validation: the OOT validation pack of the challenger alone.
        X_train, X_oot: feature frames of training and OOT rows (PSI/CSI, SHAP summaries).
        y_train, y_oot: their outcomes.
        prob_default_oot, grades_oot: floored PD and grade of the OOT rows.
        config_hash, feature_order_hash: identity of what was trained.
    """

    model: PDClassifier
    challenger: WoEScorecard
    selection: dict[str, Any]
    split: SplitIndices
    validation: dict[str, Any]
    challenger_validation: dict[str, Any]
    X_train: pd.DataFrame
    X_oot: pd.DataFrame
    y_train: np.ndarray
    y_oot: np.ndarray
    prob_default_oot: np.ndarray
    grades_oot: np.ndarray
    config_hash: str
    feature_order_hash: str
    extra: dict[str, Any] = field(default_factory=dict)
    #: the weight of each training row (reject inference), ``None`` when every row counts once
    w_train: np.ndarray | None = None
    #: digests of the firms with a training or calibration row (``pd_model/oot.py``); ``None`` with
    #: ``firm_split: none`` (the OOT rows are then every firm's)
    seen_firms: np.ndarray | None = None

    @property
    def metrics(self) -> dict[str, float]:
        """Flat metrics for a run log: the model's OOT pack plus ``challenger_*`` and selection figures."""
        out = dict(self.validation["metrics"])
        for key in ("auc", "brier", "ks", "ece"):
            out[f"challenger_{key}"] = float(self.challenger_validation["metrics"][key])
        out["blend_weight"] = float(self.selection["blend_weight"])
        out["n_train"] = float(len(self.split.train))
        out["n_calib"] = float(len(self.split.calib))
        return out


def _target(frame: pd.DataFrame, column: str, *, allow_missing: bool = False) -> np.ndarray:
    if column not in frame.columns:
        raise DataValidationError(f"the target column {column!r} is missing", field=column)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isin(values, (0.0, 1.0))
    if allow_missing:
        bad &= ~frame[column].isna().to_numpy()
    if bad.any():
        first = frame[column].to_numpy()[bad][0]
        raise DataValidationError(
            f"target must be 0 or 1; got {first!r} ({int(bad.sum())} row(s))", field=column, value=first
        )
    return values


def _chosen(weight: float, linear_weight: float = 0.0) -> str:
    if weight >= 1.0:
        return "lightgbm"
    if linear_weight >= 1.0:
        return "linear"
    if weight <= 0.0 and linear_weight <= 0.0:
        return "scorecard"
    return "blend"


def fit_pd_model(
    frame_with_points: pd.DataFrame, config: PDModelConfig, *, classifier: PDClassifier | None = None
) -> FitResult:
    """Train, select, calibrate and validate out of time.

    Args:
        frame_with_points: applicant rows of several ``as_of_date`` cohorts joined with the points columns,
            with the 0/1 target column of ``config.split.target``; a missing target marks an applicant
            without an outcome (declined or never booked), which ``config.reject_inference`` uses or, with
            ``none``, leaves out. The test year is validated on its outcomes only.
        config: the PD model configuration.
        classifier: an unfitted classifier to fit instead of ``PDClassifier.from_config(config)`` (e.g. one
            whose boosters are trained on a Dask cluster); everything else is unchanged.

    Returns:
        A :class:`FitResult`; all fitting used training rows only (calibration: the calibration slice;
        selection: folds inside the training rows); the test slice is touched only for validation.
    """
    split = oot_split(frame_with_points, config)
    features = build_features(frame_with_points, config)
    inference = RejectInference(config.reject_inference, config)
    y = _target(frame_with_points, config.split.target, allow_missing=True)
    unbooked = np.isnan(y)  # applicants without an outcome: reject inference's, or left out (``none``)
    train_b, train_u, calib_b, calib_u = (
        idx[keep[idx]] for idx in (split.train, split.calib) for keep in (~unbooked, unbooked)
    )
    X_oot, y_oot = features.iloc[split.test[~unbooked[split.test]]], y[split.test[~unbooked[split.test]]]
    for name, yy in (("train", y[train_b]), ("calib", y[calib_b]), ("test", y_oot)):
        if yy.min() == yy.max():
            raise DataValidationError(
                f"the {name} slice has no {'defaults' if yy.max() == 0 else 'non-defaults'}; cannot fit or validate",
                field=config.split.target,
            )
    # fitted on the training years only; applied to the training and calibration years
    inference.fit(features.iloc[train_b], y[train_b], features.iloc[train_u])
    train = inference.transform(features.iloc[train_b], y[train_b], features.iloc[train_u])
    calib = inference.transform(features.iloc[calib_b], y[calib_b], features.iloc[calib_u])
    X_train, y_train, X_calib, y_calib = train.X, train.y, calib.X, calib.y
    model = (classifier if classifier is not None else PDClassifier.from_config(config)).fit(
        X_train,
        y_train,
        X_calib,
        y_calib,
        sample_weight=train.weight,
        calib_weight=calib.weight,
        groups=train.groups,
        fold_weights=train.fold_weights,
    )
    if model.scorecard_ is not None:
        challenger = model.scorecard_
    else:
        challenger = WoEScorecard.from_config(config, monotone_constraints=tuple(config.monotone_constraints))
        challenger.fit(X_train.to_numpy(), y_train, sample_weight=train.weight)
    scale = config.master_scale
    prob_default_oot = apply_pd_floor(sigmoid(model.raw_score(X_oot)), scale)
    grades_oot = assign_grade(prob_default_oot, scale)
    prob_default_train = apply_pd_floor(sigmoid(model.raw_score(X_train)), scale)
    pack = validation_pack(
        y_oot,
        prob_default_oot,
        grades_oot,
        scale,
        config=config.validation,
        train_prob_default=prob_default_train,
        X_train=X_train,
        X_oot=X_oot,
    )
    challenger_pd = apply_pd_floor(challenger.predict_proba(X_oot.to_numpy())[:, 1], scale)
    challenger_pack = validation_pack(
        y_oot, challenger_pd, assign_grade(challenger_pd, scale), scale, config=config.validation
    )
    selection = {
        "chosen": _chosen(model.blend_weight_, model.linear_weight_),
        "blend_weight": float(model.blend_weight_),
        **({"linear_weight": float(model.linear_weight_)} if model.linear is not None else {}),
        "metric": config.selection.metric,
        "table": list(model.selection_),
        "oot": {
            "model_auc": auc_with_ci(y_oot, prob_default_oot)["auc"],
            "challenger_auc": auc_with_ci(y_oot, challenger_pd)["auc"],
            "model_brier": brier(y_oot, prob_default_oot),
            "challenger_brier": brier(y_oot, challenger_pd),
        },
    }
    return FitResult(
        model=model,
        challenger=challenger,
        selection=selection,
        split=split,
        validation=pack,
        challenger_validation=challenger_pack,
        X_train=X_train,
        X_oot=X_oot,
        y_train=y_train,
        y_oot=y_oot,
        prob_default_oot=prob_default_oot,
        grades_oot=grades_oot,
        config_hash=config.content_hash,
        feature_order_hash=feature_order_hash(config),
        w_train=train.weight,
        seen_firms=(
            split.seen_firms(frame_with_points, config.split.firm_column)
            if config.split.firm_split != "none"
            else None
        ),
        extra={
            "reject_inference": {
                **inference.describe(),
                **{f"train_{k}": v for k, v in train.summary.items()},
                **{f"calib_{k}": v for k, v in calib.summary.items()},
            }
        },
    )
