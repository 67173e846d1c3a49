"""Binary target handling shared by the PD estimators: class order and the 0/1 encoding of defaults."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.multiclass import type_of_target


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
