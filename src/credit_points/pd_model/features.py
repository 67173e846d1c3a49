"""Model features from the applicant record plus points: float64 columns in the configured order.

Each feature is a record/points column, a fixed categorical map of one column, or an expression over
columns (``credit_points.expressions``). Dates enter expressions as fractional years since 1970, so
``as_of_date - founded_date`` is the firm's age in years. Only columns observed at ``as_of_date`` may be
read (the configuration rejects outcomes and simulation truth).
"""

from __future__ import annotations

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
    names: set[str] = set()
    for spec in config.features:
        names |= set(compile_expression(spec.source).names)
    return sorted(names)


def _column_values(series: pd.Series) -> np.ndarray:
    """A column as numpy for expressions: dates as years since 1970, bools and numbers as float64."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        ns = series.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
        ns[series.isna().to_numpy()] = np.nan
        return ns / _NS_PER_YEAR
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    return series.to_numpy(dtype=object)


def _encode(series: pd.Series, mapping: EncodingMap, field: str) -> np.ndarray:
    values = series.astype(object)
    missing = values.isna().to_numpy()
    mapped = values.map(mapping.levels)
    unknown = mapped.isna().to_numpy() & ~missing
    if unknown.any():
        bad = values[unknown].iloc[0]
        raise DataValidationError(
            f"value {bad!r} is not one of {sorted(mapping.levels)} ({int(unknown.sum())} row(s))",
            field=field,
            value=bad,
        )
    if missing.any() and mapping.missing == "error":
        raise DataValidationError(
            f"{int(missing.sum())} missing value(s) where a category is required", field=field
        )
    return mapped.to_numpy(dtype="float64", na_value=np.nan)


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
    missing = [c for c in required_columns(config) if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"column(s) required by the PD features are missing: {missing}", field=missing[0], value=None
        )
    env: dict[str, Any] = {}
    columns: dict[str, np.ndarray] = {}
    n = len(frame)
    for spec in config.features:
        if spec.encoding is not None:
            values = _encode(frame[spec.source], config.encodings[spec.encoding], spec.source)
        else:
            expr = compile_expression(spec.source)
            for name in expr.names:
                if name not in env:
                    env[name] = _column_values(frame[name])
            raw = np.asarray(expr.evaluate(env))
            if raw.ndim == 0:
                raw = np.full(n, raw)
            if raw.dtype.kind not in "biufc":
                raise DataValidationError(
                    f"feature {spec.name!r} is not numeric (source {spec.source!r}); give it an encoding",
                    field=spec.source,
                )
            values = raw.astype("float64")
        columns[spec.name] = values
    out = pd.DataFrame(columns, index=frame.index)
    return out.astype("float64")
