"""Model features from the applicant record plus points: float64 columns in the configured order.

Each feature is a record/points column, a fixed categorical map of one column, or an expression over
columns (``credit_points.expressions``). Dates enter expressions as fractional years since 1970, so
``as_of_date - founded_date`` is the firm's age in years. Only columns observed at ``as_of_date`` may be
read (the configuration rejects outcomes and simulation truth).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from credit_points.config import sha256_text
from credit_points.exceptions import DataValidationError
from credit_points.expressions import compile_expression
from credit_points.pd_model.config import EncodingMap, PDModelConfig

_NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9


def feature_names(config: PDModelConfig) -> list[str]:
    """Feature names in model order.

    Examples:
        >>> from credit_points.pd_model.config import load_pd_config
        >>> feature_names(load_pd_config("default"))[:2]
        ['points_total', 'points_cat_tech']
    """
    return list(config.feature_names)


def feature_order_hash(config: PDModelConfig) -> str:
    """SHA-256 of the ordered feature names (what a decision records to prove the column order).

    Examples:
        >>> from credit_points.pd_model.config import load_pd_config
        >>> len(feature_order_hash(load_pd_config("default")))
        64
    """
    return sha256_text("\n".join(config.feature_names))


def required_columns(config: PDModelConfig) -> list[str]:
    """The input columns the features read, sorted."""
    return list(_plan(config).required)


class _FeaturePlan:
    """A PD config's features compiled once: expressions, encodings as lookup dicts, the columns they read."""

    __slots__ = ("config", "required", "steps")

    def __init__(self, config: PDModelConfig) -> None:
        self.config = config
        names: set[str] = set()
        steps: list[tuple[str, str, Any, EncodingMap | None]] = []
        for spec in config.features:
            expr = compile_expression(spec.source)
            names |= set(expr.names)
            encoding = config.encodings[spec.encoding] if spec.encoding is not None else None
            steps.append((spec.name, spec.source, expr, encoding))
        self.required = tuple(sorted(names))
        self.steps = tuple(steps)


_PLANS: dict[int, _FeaturePlan] = {}


def _plan(config: PDModelConfig) -> _FeaturePlan:
    """The compiled plan of ``config``, built once per config object."""
    plan = _PLANS.get(id(config))
    if plan is not None and plan.config is config:
        return plan
    if len(_PLANS) >= 32:
        _PLANS.clear()
    plan = _FeaturePlan(config)
    _PLANS[id(config)] = plan
    return plan


def _column_values(series: Any) -> np.ndarray:
    """A column as numpy for expressions: dates as years since 1970, bools and numbers as float64."""
    if isinstance(series, pd.Series):
        dtype = series.dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            ns = series.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
            ns[series.isna().to_numpy()] = np.nan
            return ns / _NS_PER_YEAR
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            return series.to_numpy(dtype="float64", na_value=np.nan)
        return series.to_numpy(dtype=object)
    arr = np.asarray(series)
    if arr.dtype.kind == "M":
        stamps = arr.astype("datetime64[ns]")
        ns = stamps.astype("int64").astype("float64")
        ns[np.isnat(stamps)] = np.nan
        return ns / _NS_PER_YEAR
    if arr.dtype.kind in "biuf":
        return arr.astype("float64")
    return arr.astype(object)


def _encode(series: Any, mapping: EncodingMap, field: str) -> np.ndarray:
    """Category codes through the fixed map: one dict look-up per distinct value, then a numpy take."""
    values = (
        series.to_numpy(dtype=object) if isinstance(series, pd.Series) else np.asarray(series, dtype=object)
    )
    factor, uniques = pd.factorize(values, use_na_sentinel=True)
    factor = np.asarray(factor)
    missing = factor < 0
    table = np.array(
        [mapping.levels.get(u, np.nan) if isinstance(u, str) else np.nan for u in uniques] + [np.nan]
    )
    unknown = np.isnan(table[:-1])
    if unknown.any():
        k = int(np.flatnonzero(unknown)[0])
        bad = uniques[k]
        raise DataValidationError(
            f"value {bad!r} is not one of {sorted(mapping.levels)} ({int(unknown[factor[~missing]].sum())} row(s))",
            field=field,
            value=bad,
        )
    if missing.any() and mapping.missing == "error":
        raise DataValidationError(
            f"{int(missing.sum())} missing value(s) where a category is required", field=field
        )
    return table[np.where(missing, len(uniques), factor)]


def feature_matrix(
    columns: pd.DataFrame | Mapping[str, Any], config: PDModelConfig, n: int | None = None
) -> np.ndarray:
    """The model features as a C-ordered float64 ``(rows, features)`` matrix, columns in config order.

    The same numbers as :func:`build_features`, without building a frame (the serving path).

    Args:
        columns: a frame, or a mapping of column name to a numpy array (one value per row).
        config: the PD model configuration.
        n: the number of rows (a frame's length when not given).

    Raises:
        DataValidationError: as :func:`build_features`.

    Examples:
        >>> from credit_points.pd_model.config import load_pd_config
        >>> from credit_points.points.config import load_points_config
        >>> from credit_points.points.scorer import score_points
        >>> from credit_points.points.testing import example_frame
        >>> cfg = load_pd_config("default")
        >>> firms = example_frame(20)
        >>> frame = pd.concat([firms, score_points(firms, load_points_config("torch-18"))], axis=1)
        >>> bool((feature_matrix(frame, cfg) == build_features(frame, cfg).to_numpy()).all())
        True
    """
    plan = _plan(config)
    available = columns.columns if isinstance(columns, pd.DataFrame) else columns
    missing = [c for c in plan.required if c not in available]
    if missing:
        raise DataValidationError(
            f"column(s) required by the PD features are missing: {missing}", field=missing[0], value=None
        )
    if n is None:
        n = len(columns) if isinstance(columns, pd.DataFrame) else len(next(iter(columns.values()), ()))
    env: dict[str, Any] = {}
    out = np.empty((len(plan.steps), n), dtype="float64")
    for k, (name, source, expr, encoding) in enumerate(plan.steps):
        if encoding is not None:
            out[k] = _encode(columns[source], encoding, source)
            continue
        for field in expr.names:
            if field not in env:
                env[field] = _column_values(columns[field])
        raw = env[source] if source in env else np.asarray(expr.evaluate(env))
        if raw.ndim == 0:
            raw = np.full(n, raw)
        if raw.dtype.kind not in "biufc":
            raise DataValidationError(
                f"feature {name!r} is not numeric (source {source!r}); give it an encoding",
                field=source,
            )
        out[k] = raw.astype("float64")
    return np.ascontiguousarray(out.T)


def build_features(frame: pd.DataFrame, config: PDModelConfig) -> pd.DataFrame:
    """Compute the model features of ``frame`` (same index, float64, columns exactly in config order).

    Args:
        frame: the validated applicant record joined with the points columns.
        config: the PD model configuration.

    Returns:
        A float64 frame with one column per configured feature, NaN where an input is missing.

    Raises:
        DataValidationError: a column the features need is absent (naming it), or a category lies outside
            its fixed map (naming the field and the value).

    Examples:
        >>> from credit_points.pd_model.config import load_pd_config
        >>> cfg = load_pd_config("default")
        >>> try:
        ...     build_features(pd.DataFrame({"revenue": [1.0]}), cfg)
        ... except DataValidationError as exc:
        ...     exc.field
        'abnormal_operation_list'
    """
    matrix = feature_matrix(frame, config)
    return pd.DataFrame(matrix, index=frame.index, columns=list(config.feature_names), copy=False)
