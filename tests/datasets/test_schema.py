"""Validation of applicant rows: one test per class of bad input, typed good rows, nothing dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from credit_points.datasets.io import read_table
from credit_points.datasets.schema import ERROR_COLUMNS, applicant_schema, validate_applicants
from credit_points.exceptions import DataValidationError

TODAY = "2026-01-15"


def _validate(frame: pd.DataFrame, **kwargs: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    return validate_applicants(frame, today=TODAY, **kwargs)  # type: ignore[arg-type]


def _only_problem(errors: pd.DataFrame) -> dict[str, object]:
    assert len(errors) == 1, errors.to_string()
    return errors.iloc[0].to_dict()


def test_clean_rows_pass_typed(clean: pd.DataFrame, fields) -> None:
    # Given forty valid rows as untyped objects
    # When
    good, errors = _validate(clean)
    # Then every row is good and typed as the contract says
    assert len(errors) == 0 and list(errors.columns) == ERROR_COLUMNS
    assert len(good) == len(clean)
    for spec in fields.fields:
        dtype = str(good[spec.name].dtype)
        expected = {"float": "float64", "int": "float64", "bool": "bool", "date": "datetime64[ns]"}.get(
            spec.dtype, "str"
        )
        assert dtype == expected, spec.name
    assert good["firm_id"].tolist() == clean["firm_id"].tolist()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("firm_id", "91350100M000100Y44", "统一社会信用代码"),  # wrong check digit
        ("revenue", "twelve million", "not a number"),  # type coercion
        ("employees", 12.5, "not a whole number"),
        ("employees", "inf", "finite"),
        ("revenue", float("-inf"), "finite"),
        ("total_assets", "NaN", "missing or NaN"),  # NaN spelled as text
        ("total_assets", np.nan, "missing or NaN"),
        ("total_assets", "N/A", "missing or NaN"),  # spreadsheet null token, kept as text in the report
        ("srdi", "null", "required value is missing"),
        ("revenue", -1.0, "below the minimum 0"),
        ("rd_platform_tier", 4, "above the maximum 3"),
        ("tax_credit_grade", "E", "not one of A, B, M, C, D"),
        ("credit_status", "守信", "not one of"),  # codes are English; labels live in the catalogue
        ("industry_code", "C3X", "does not match"),
        ("zone", "   ", "required value is missing"),
        ("capital_market", "maybe", "not a boolean"),
        ("as_of_date", "2024-02-30", "not a date"),
        ("as_of_date", "2026-01-16", "in the future"),
        ("founded_date", "1850-01-01", "plausible range"),
    ],
)
def test_each_bad_cell_is_one_problem_in_its_row(
    clean: pd.DataFrame, field: str, value: object, reason: str
) -> None:
    # Given one bad cell in row 5 (position 4)
    frame = clean.copy()
    frame.loc[4, field] = value
    # When
    good, errors = _validate(frame)
    # Then the row is reported once, with its 1-based row number, firm and original value, and left out
    problem = _only_problem(errors)
    assert problem["row"] == 5 and problem["field"] == field and reason in problem["reason"]
    assert problem["firm_id"] == str(frame.loc[4, "firm_id"])
    assert problem["value"] == ("" if pd.isna(value) else str(value))
    assert len(good) == len(frame) - 1 and 4 not in good.index


@pytest.mark.parametrize(
    ("field", "bound"),
    [
        ("rd_expense", "revenue"),
        ("rd_staff", "employees"),
        ("existing_unsecured_debt", "existing_bank_debt"),
        ("degree_staff", "employees"),
    ],
)
def test_cross_field_bounds(clean: pd.DataFrame, field: str, bound: str) -> None:
    # Given a value above the field it must not exceed (and the bound positive)
    frame = clean.copy()
    frame.loc[2, bound] = 100.0
    frame.loc[2, field] = 101.0
    for other in ("rd_staff", "degree_staff") if bound == "employees" else ():
        frame.loc[2, other] = min(float(frame.loc[2, other]), 100.0) if other != field else 101.0
    # When
    _, errors = _validate(frame)
    # Then
    problem = _only_problem(errors)
    assert (problem["row"], problem["field"]) == (3, field)
    assert bound in problem["reason"]


def test_rd_may_exceed_zero_revenue_for_pre_revenue_firms(clean: pd.DataFrame) -> None:
    # Given a firm with no revenue yet but R&D spending (le_unless_zero)
    frame = clean.copy()
    frame.loc[0, "revenue"] = 0.0
    frame.loc[0, "rd_expense"] = 250_000.0
    # When / Then
    assert len(_validate(frame)[1]) == 0


def test_nullable_fields_accept_missing_and_required_fields_do_not(clean: pd.DataFrame) -> None:
    # Given a gap in a nullable field (orders backlog) and one in a required field (tax paid)
    frame = clean.copy()
    frame.loc[1, "orders_backlog"] = None
    frame.loc[1, "tax_paid"] = None
    # When
    good, errors = _validate(frame)
    # Then only the required one is a problem
    assert _only_problem(errors)["field"] == "tax_paid"
    frame.loc[1, "tax_paid"] = 1000.0
    good, errors = _validate(frame)
    assert len(errors) == 0 and np.isnan(good.loc[1, "orders_backlog"])


def test_dates_with_offsets_and_times_become_china_calendar_dates(clean: pd.DataFrame) -> None:
    # Given ISO timestamps with mixed offsets and a time of day
    frame = clean.copy()
    frame.loc[0, "as_of_date"] = "2024-06-30T20:00:00Z"  # 04:00 on 1 July in China
    frame.loc[1, "as_of_date"] = "2024-06-30T09:30:00+08:00"
    frame.loc[2, "as_of_date"] = "2024-06-30 15:45"
    # When
    good, errors = _validate(frame)
    # Then
    assert len(errors) == 0
    assert good.loc[[0, 1, 2], "as_of_date"].tolist() == [
        pd.Timestamp("2024-07-01"),
        pd.Timestamp("2024-06-30"),
        pd.Timestamp("2024-06-30"),
    ]


def test_founded_after_as_of_date(clean: pd.DataFrame) -> None:
    frame = clean.copy()
    frame.loc[3, "founded_date"] = pd.Timestamp(frame.loc[3, "as_of_date"]) + pd.Timedelta(days=1)
    problem = _only_problem(_validate(frame)[1])
    assert (problem["row"], problem["field"], problem["reason"]) == (4, "founded_date", "after as_of_date")


def test_duplicate_keys_report_every_row_sharing_the_key(clean: pd.DataFrame) -> None:
    # Given rows 3 and 8 with the same (firm_id, as_of_date)
    frame = clean.copy()
    frame.loc[7, "firm_id"] = frame.loc[2, "firm_id"]
    frame.loc[7, "as_of_date"] = frame.loc[2, "as_of_date"]
    # When
    good, errors = _validate(frame)
    # Then both are reported (the batch cannot tell which is right) and neither is kept
    assert errors["row"].tolist() == [3, 8]
    assert set(errors["field"]) == {"firm_id"}
    assert all("first at row 3" in r for r in errors["reason"])
    assert len(good) == len(frame) - 2


def test_several_problems_in_one_row_each_get_a_line(clean: pd.DataFrame) -> None:
    frame = clean.copy()
    frame.loc[0, ["revenue", "tax_credit_grade", "zone"]] = [-5.0, "Z", None]
    _, errors = _validate(frame)
    assert errors["row"].tolist() == [1, 1, 1]
    assert errors["field"].tolist() == ["zone", "revenue", "tax_credit_grade"]  # catalogue order


def test_nothing_is_dropped_silently(clean: pd.DataFrame) -> None:
    # Given a batch with a mix of bad rows and a non-default index
    frame = clean.copy()
    frame.index = pd.RangeIndex(100, 100 + len(frame))
    frame.loc[[101, 110, 120], "revenue"] = ["x", -1.0, None]
    frame.loc[120, "tax_credit_grade"] = "Q"
    # When
    good, errors = _validate(frame)
    # Then good rows + bad rows = input rows, rows count positions (not labels), the index is kept
    assert len(good) + errors["row"].nunique() == len(frame)
    assert sorted(errors["row"].unique()) == [2, 11, 21]
    assert good.index.equals(frame.index.delete([1, 10, 20]))


def test_extra_columns_pass_through(clean: pd.DataFrame) -> None:
    frame = clean.assign(bank_ref=[f"R{i}" for i in range(len(clean))])
    good, _ = _validate(frame)
    assert good.columns[-1] == "bank_ref" and good["bank_ref"].iloc[0] == "R0"


def test_missing_column_raises_naming_it_and_the_file(clean: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match=r"in\.csv: zone: missing column zone") as info:
        validate_applicants(clean.drop(columns="zone"), path="in.csv")
    assert info.value.field == "zone" and info.value.path == "in.csv"


def test_outcome_required_only_for_training(clean: pd.DataFrame) -> None:
    frame = clean.drop(columns="default_12m")
    good, errors = _validate(frame)
    assert len(errors) == 0 and "default_12m" not in good
    with pytest.raises(DataValidationError, match="default_12m"):
        _validate(frame, require_outcome=True)


def test_today_defaults_to_the_real_date(clean: pd.DataFrame) -> None:
    frame = clean.copy()
    frame.loc[0, "as_of_date"] = (pd.Timestamp.now() + pd.Timedelta(days=2)).strftime("%Y-%m-%d")
    assert _only_problem(validate_applicants(frame)[1])["reason"].startswith("in the future")


def test_csv_with_a_wrong_type_reports_row_and_field(tmp_path: Path, clean: pd.DataFrame) -> None:
    # Given a CSV file where one employees cell is text
    path = tmp_path / "applicants.csv"
    frame = clean.copy()
    frame.loc[6, "employees"] = "about ten"
    frame.to_csv(path, index=False)
    # When the file is read and validated
    raw = read_table(path)
    good, errors = validate_applicants(raw, today=TODAY, path=str(path))
    # Then
    problem = _only_problem(errors)
    assert (problem["row"], problem["field"], problem["value"], problem["reason"]) == (
        7,
        "employees",
        "about ten",
        "not an integer",
    )
    assert str(good["employees"].dtype) == "float64" and len(good) == len(frame) - 1


def test_good_rows_satisfy_the_pandera_contract(panel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    good, _ = _validate(panel[0])
    applicant_schema().validate(good, lazy=True)


def test_pandera_contract_rejects_what_validation_rejects(panel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # Given typed rows with a bad enum, a negative revenue and R&D above revenue
    frame = panel[0].head(10).copy()
    frame.loc[0, "tax_credit_grade"] = "Z"
    frame.loc[1, "revenue"] = -1.0
    frame.loc[2, "rd_expense"] = float(frame.loc[2, "revenue"]) + 1e6
    # When / Then
    with pytest.raises(pa.errors.SchemaErrors) as info:
        applicant_schema().validate(frame, lazy=True)
    failed = set(info.value.failure_cases["check"].astype(str))
    assert any("isin" in c for c in failed)
    assert any("greater_than_or_equal_to" in c for c in failed)
    assert any("rd_expense" in c for c in failed)
    _, errors = _validate(frame)
    assert errors["row"].tolist() == [1, 2, 3]
