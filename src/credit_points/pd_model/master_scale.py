"""The master scale: PD floor, PD bands → rating grades, and the default grade.

A PD is first floored (``pd_floor``, 0.03% by default), then placed in the first performing grade whose
``pd_max`` exceeds it. A PD of 1 (or a row flagged as defaulted) gets the default grade ``D``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.config import MasterScale


def apply_pd_floor(prob_default: Any, scale: MasterScale) -> np.ndarray:
    """PD raised to the scale's floor.

    Examples:
        >>> from credit_points.pd_model.config import load_pd_config
        >>> apply_pd_floor([0.0, 0.01], load_pd_config("default").master_scale).tolist()
        [0.0003, 0.01]
    """
    values = _checked(prob_default)
    return np.maximum(values, scale.pd_floor)


def _checked(prob_default: Any) -> np.ndarray:
    values = np.asarray(prob_default, dtype="float64")
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        first = values[bad][0]
        raise DataValidationError(
            f"PD must be a number in [0, 1]; got {first!r} ({int(bad.sum())} value(s))",
            field="prob_default",
            value=first,
        )
    return values


def assign_grade(prob_default: Any, scale: MasterScale, *, defaulted: Any = None) -> np.ndarray:
    """Grade of each PD on the master scale (after the PD floor).

    Args:
        prob_default: PDs in [0, 1].
        scale: the master scale.
        defaulted: optional booleans; ``True`` rows get the default grade whatever their PD.

    Returns:
        An array of grade labels (``str``).

    Raises:
        DataValidationError: a PD is NaN, infinite or outside [0, 1].

    Examples:
        >>> from credit_points.pd_model.config import load_pd_config
        >>> scale = load_pd_config("default").master_scale
        >>> assign_grade([0.0, 0.001, 0.03, 0.5, 1.0], scale).tolist()
        ['1', '2', '6', '9', 'D']
    """
    floored = apply_pd_floor(prob_default, scale)
    uppers = np.array([g.pd_max for g in scale.grades], dtype="float64")
    labels = np.array(scale.labels, dtype=object)
    idx = np.searchsorted(uppers, floored, side="right")
    if defaulted is not None:
        idx = np.where(np.asarray(defaulted, dtype=bool), len(uppers), idx)
    return labels[idx].astype(str)


def grade_bounds(scale: MasterScale) -> list[tuple[str, float, float]]:
    """``(grade, pd_min, pd_max)`` per grade, the default grade as ``(D, 1, 1)``.

    Examples:
        >>> from credit_points.pd_model.config import load_pd_config
        >>> grade_bounds(load_pd_config("default").master_scale)[0]
        ('1', 0.0, 0.001)
    """
    out = []
    lower = 0.0
    for g in scale.grades:
        out.append((g.grade, lower, g.pd_max))
        lower = g.pd_max
    out.append((scale.default_grade, 1.0, 1.0))
    return out
