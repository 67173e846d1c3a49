"""The API's applicant model: built from the catalogue, strict about numbers, keys, bounds and codes."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from credit_points.datasets.fields import FieldsConfig
from credit_points.datasets.record import applicants_to_frame, build_applicant_model, example_applicant
from credit_points.datasets.schema import validate_applicants


@pytest.fixture(scope="module")
def model() -> Any:
    return build_applicant_model()


def _errors(model: Any, **changes: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate({**example_applicant(), **changes})
    return info.value.errors()


def test_example_is_valid_and_frames_like_validated_rows(model: Any) -> None:
    # Given two records (one with gaps in nullable fields)
    second = {**example_applicant(), "orders_backlog": None, "degree_staff": None, "as_of_date": "2023-06-30"}
    records = [model.model_validate(a).model_dump(mode="json") for a in (example_applicant(), second)]
    # When
    frame = applicants_to_frame(records)
    # Then it is exactly what validation makes of the same data
    good, errors = validate_applicants(pd.DataFrame([example_applicant(), second]))
    assert len(errors) == 0
    pd.testing.assert_frame_equal(frame, good)
    assert frame["orders_backlog"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), float("-inf"), "NaN", "nan", "Infinity", "-Infinity", "inf"]
)
def test_nan_and_infinity_are_refused(model: Any, value: Any) -> None:
    errors = _errors(model, revenue=value)
    assert [e["loc"] for e in errors] == [("revenue",)]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_literals_are_refused(model: Any, literal: str) -> None:
    body = json.dumps(example_applicant()).replace('"net_profit": 900000.0', f'"net_profit": {literal}')
    assert literal in body
    with pytest.raises(ValidationError) as info:
        model.model_validate_json(body)
    assert [e["loc"] for e in info.value.errors()] == [("net_profit",)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"unexpected": 1}, "unexpected"),
        ({"revenue": -1.0}, "revenue"),
        ({"rd_platform_tier": 4}, "rd_platform_tier"),
        ({"employees": 2.5}, "employees"),
        ({"tax_credit_grade": "E"}, "tax_credit_grade"),
        ({"srdi": "city"}, "srdi"),
        ({"industry_code": "c39"}, "industry_code"),
        ({"firm_id": "91430100MA4L0XQJ36"}, "firm_id"),
        ({"as_of_date": (dt.date.today() + dt.timedelta(days=1)).isoformat()}, "as_of_date"),
        ({"zone": ""}, "zone"),
    ],
)
def test_field_errors_name_the_field(model: Any, changes: dict[str, Any], field: str) -> None:
    errors = _errors(model, **changes)
    assert [e["loc"] for e in errors] == [(field,)]


def test_missing_required_field(model: Any) -> None:
    data = example_applicant()
    del data["revenue"]
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    assert [e["loc"] for e in info.value.errors()] == [("revenue",)]


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"rd_expense": 13_000_000.0}, ("rd_expense", "revenue")),
        ({"rd_staff": 49}, ("rd_staff", "employees")),
        ({"degree_staff": 49}, ("degree_staff", "employees")),
        ({"existing_unsecured_debt": 2_000_001.0}, ("existing_unsecured_debt", "existing_bank_debt")),
        ({"founded_date": "2024-07-01"}, ("founded_date", "as_of_date")),
    ],
)
def test_cross_field_rules(model: Any, changes: dict[str, Any], names: tuple[str, str]) -> None:
    # the wording is the batch validation's (datasets.rules): the field at fault, the field it is bound by
    errors = _errors(model, **changes)
    assert len(errors) == 1 and names[1] in errors[0]["msg"]
    assert errors[0]["loc"] == (names[0],) and errors[0]["input"] is None


def test_all_cross_field_problems_are_reported_together(model: Any) -> None:
    errors = _errors(model, rd_staff=49, existing_unsecured_debt=3_000_000.0)
    assert sorted(e["loc"] for e in errors) == [("existing_unsecured_debt",), ("rd_staff",)]


def test_pre_revenue_firm_may_spend_on_rd(model: Any) -> None:
    model.model_validate(
        {**example_applicant(), "revenue": 0.0, "revenue_prev": 0.0, "rd_expense": 300_000.0, "tax_paid": 0.0}
    )


def test_messages_never_echo_the_submitted_value(model: Any) -> None:
    # Given distinctive bad values in several fields
    cases = [
        {"revenue": -987654.321},
        {"firm_id": "91430100MA4L0XQJ36"},
        {"rd_expense": 98765432.1},
        {"tax_credit_grade": "QQQZ"},
        {"as_of_date": "2999-12-31"},
    ]
    for changes in cases:
        messages = " ".join(e["msg"] for e in _errors(model, **changes))
        # Then no message repeats what was sent
        for value in changes.values():
            assert str(value) not in messages
            if isinstance(value, float):
                assert f"{abs(value):g}" not in messages and str(int(abs(value))) not in messages


def test_every_field_has_a_bilingual_description(model: Any, fields: FieldsConfig) -> None:
    for spec in fields.fields:
        description = model.model_fields[spec.name].description
        zh, _, en = description.partition(" / ")
        assert zh == spec.label_zh and en == spec.label_en
        assert re.search(r"[\u4e00-\u9fff]", zh), spec.name


def test_model_follows_the_catalogue(fields: FieldsConfig) -> None:
    # Given a catalogue where a bank added a tax grade and relabelled revenue
    specs = []
    for spec in fields.fields:
        if spec.name == "tax_credit_grade":
            spec = spec.model_copy(update={"enum": (*spec.enum, "N")})
        if spec.name == "revenue":
            spec = spec.model_copy(update={"label_zh": "主营业务收入"})
        specs.append(spec)
    custom = FieldsConfig(version="bank-1", fields=tuple(specs))
    # When
    model = build_applicant_model(custom)
    # Then the new code is accepted and the label is the new one
    model.model_validate({**example_applicant(), "tax_credit_grade": "N"})
    assert model.model_fields["revenue"].description.startswith("主营业务收入")
    assert build_applicant_model(custom) is model
