"""Features: float64 columns in config order, derived ratios from record fields, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.config import PDModelConfig
from credit_points.pd_model.features import build_features, feature_names, feature_order_hash


def test_columns_are_float64_in_config_order_on_the_same_index(
    panel: pd.DataFrame, pd_config: PDModelConfig
) -> None:
    frame = panel.iloc[:50].copy()
    frame.index = np.arange(1000, 1050)
    out = build_features(frame, pd_config)
    assert list(out.columns) == feature_names(pd_config)
    assert (out.dtypes == "float64").all()
    assert out.index.equals(frame.index)


def test_derived_ratios_equal_hand_computation(panel: pd.DataFrame, pd_config: PDModelConfig) -> None:
    frame = panel.iloc[:200]
    out = build_features(frame, pd_config)
    expected_leverage = np.clip(frame["total_liabilities"] / frame["total_assets"], 0, 5)
    np.testing.assert_allclose(out["debt_to_assets_ratio"], expected_leverage)
    growth = (frame["revenue"] - frame["revenue_prev"]) / frame["revenue_prev"]
    np.testing.assert_allclose(
        out["revenue_growth_rate"], np.clip(growth, -1, 10)
    )  # NaN where prev is missing
    assert out["revenue_growth_rate"].isna().sum() == frame["revenue_prev"].isna().sum()
    age_days = (frame["as_of_date"] - frame["founded_date"]).dt.days
    np.testing.assert_allclose(out["firm_age_years"], age_days / 365.25, rtol=1e-9)
    grade_map = {"A": 0, "B": 1, "M": 2, "C": 3, "D": 4}
    np.testing.assert_array_equal(out["tax_credit_grade_ordinal"], frame["tax_credit_grade"].map(grade_map))
    np.testing.assert_array_equal(
        out["abnormal_operation_list"], frame["abnormal_operation_list"].astype(float)
    )


def test_missing_column_is_an_error_naming_it(panel: pd.DataFrame, pd_config: PDModelConfig) -> None:
    with pytest.raises(DataValidationError) as err:
        build_features(panel.drop(columns=["total_assets"]), pd_config)
    assert err.value.field == "total_assets"


def test_unknown_category_is_an_error_naming_field_and_value(
    panel: pd.DataFrame, pd_config: PDModelConfig
) -> None:
    frame = panel.iloc[:10].copy()
    frame.loc[3, "tax_credit_grade"] = "Z"
    with pytest.raises(DataValidationError) as err:
        build_features(frame, pd_config)
    assert err.value.field == "tax_credit_grade"
    assert err.value.value == "Z"


def test_column_order_of_the_input_does_not_matter_but_output_order_is_fixed(panel, pd_config) -> None:
    frame = panel.iloc[:20]
    shuffled = frame[list(reversed(frame.columns))]
    pd.testing.assert_frame_equal(build_features(frame, pd_config), build_features(shuffled, pd_config))


def test_feature_order_hash_changes_when_the_order_changes(pd_config: PDModelConfig) -> None:
    reordered = pd_config.model_copy(update={"features": tuple(reversed(pd_config.features))})
    assert feature_order_hash(reordered) != feature_order_hash(pd_config)
