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
