"""What the PD estimators share: class order and the 0/1 encoding of defaults, sample weights, the
float feature matrix, the class outputs of a log-odds score, and their settings as JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import validate_data

from credit_points.pd_model.calibration import sigmoid


class LogOddsClassifierMixin:
    """``decision_function``, ``predict_proba`` and ``predict`` of an estimator whose ``raw_score`` is the
    log-odds of ``classes_[1]``."""

    def decision_function(self: Any, X: Any) -> np.ndarray:
        """Log-odds of ``classes_[1]``."""
        return self.raw_score(X)  # type: ignore[no-any-return]

    def predict_proba(self: Any, X: Any) -> np.ndarray:
        """``[1 − PD, PD]``."""
        p = sigmoid(self.raw_score(X))
        return np.column_stack([1.0 - p, p])

    def predict(self: Any, X: Any) -> np.ndarray:
        """The more likely class."""
        raw = self.raw_score(X)  # first: an unfitted estimator says so before classes_ is read
        return self.classes_[(raw > 0).astype(int)]  # type: ignore[no-any-return]


def fitted_float_matrix(estimator: Any, X: Any) -> np.ndarray:
    """``X`` as the float64 matrix a fitted estimator scores: a float64 array of the fitted width as it is
    (the fast path of every decision), anything else through scikit-learn's checks."""
    if (
        isinstance(X, np.ndarray)
        and X.dtype == np.float64
        and X.ndim == 2
        and X.shape[1] == estimator.n_features_in_
    ):
        return X
    return validate_data(estimator, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)  # type: ignore[no-any-return]


def json_params(
    params: Mapping[str, Any], *, ints: Iterable[str] = (), floats: Iterable[str] = ()
) -> dict[str, Any]:
    """``params`` with the named tuple settings as lists of ints or floats (``None`` kept)."""
    out = dict(params)
    for keys, cast in ((ints, int), (floats, float)):
        for key in keys:
            if out.get(key) is not None:
                out[key] = [cast(v) for v in out[key]]
    return out


def params_from_json(params: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """``params`` with the named list settings back as tuples (what the estimators take)."""
    out = dict(params)
    for key in keys:
        if out.get(key) is not None:
            out[key] = tuple(out[key])
    return out


def encode_binary_target(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Classes (sorted) and the 0/1 target where 1 is the second (greater) class; binary only."""
    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        y_arr = y_arr.ravel()
    kind = type_of_target(y_arr)
    if kind not in ("binary", "multiclass"):
        raise ValueError(f"Unknown label type: target must be binary class labels; got {kind!r}")
    classes, y01 = np.unique(y_arr, return_inverse=True)
    if len(classes) > 2:
        raise ValueError(
            f"Only binary classification is supported. The type of the target is {kind}. "
            f"(a PD model needs default / non-default; got {len(classes)} classes)"
        )
    if len(classes) < 2:
        raise ValueError(
            f"the target has only one class ({classes.tolist()}); a PD model needs defaults and non-defaults"
        )
    return classes, y01.astype("float64")


def check_sample_weight(sample_weight: Any, n_rows: int, y01: np.ndarray | None = None) -> np.ndarray | None:
    """Row weights as float64 (``None`` stays ``None``: unweighted); each must be finite and non-negative,
    one per row, and (given the 0/1 target ``y01``) leave weight on both classes.

    Examples:
        >>> check_sample_weight([1, 2.5], 2).tolist()
        [1.0, 2.5]
        >>> check_sample_weight([1.0, -1.0], 2)
        Traceback (most recent call last):
        ...
        ValueError: sample_weight must be finite and non-negative; row 2 has -1.0
    """
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype="float64").ravel()
    if weight.shape[0] != n_rows:
        raise ValueError(f"sample_weight has {weight.shape[0]} values for {n_rows} rows")
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"sample_weight must be finite and non-negative; row {row + 1} has {float(weight[row])!r}"
        )
    if n_rows and not weight.sum() > 0:
        raise ValueError("sample_weight is zero for every row: nothing to learn from")
    if y01 is not None and not (weight[y01 == 1].sum() > 0 and weight[y01 == 0].sum() > 0):
        raise ValueError("sample_weight leaves weight on one class only: cannot learn the other class")
    return weight
