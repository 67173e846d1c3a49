"""The catalogue's value rules (``datasets.rules``): plausibility that every real firm passes, one wording."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from credit_points.datasets.fields import FieldsConfig, load_fields
from credit_points.datasets.generator import generate_panel
from credit_points.datasets.record import build_applicant_model, example_applicant, rule_problems
from credit_points.datasets.schema import validate_applicants


def test_the_whole_generated_panel_passes_the_plausibility_rules() -> None:
    # given a generated zone over six years (the panel every model is trained on)
    panel, _ = generate_panel(3000, years=(2019, 2024), seed=5)
    # when it is validated as a training file
    good, errors = validate_applicants(panel, require_outcome=True, today="2026-12-31")
    # then no row breaks a bound, a length or a cross-field rule
    assert errors.empty, errors.head(10).to_dict("records")
    assert len(good) == len(panel)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"existing_bank_debt": 5e7, "existing_unsecured_debt": 0.0}, "existing_bank_debt",
         "greater than total_liabilities (Total liabilities): bank debt is part of the liabilities"),
        ({"net_profit": -4e7}, "net_profit",
         "a loss larger than revenue + total_assets + wages_paid + rd_expense is not possible"),
        ({"revenue": 1e308}, "revenue", "above the maximum 1e+12"),
        ({"name": "x" * 201}, "name", "longer than 200 characters"),
        ({"zone": "z" * 65}, "zone", "longer than 64 characters"),
    ],
)  # fmt: skip
def test_batch_and_api_model_word_a_broken_rule_the_same(changes, field, reason) -> None:
    # given one applicant that breaks one rule
    applicant = {**example_applicant(), **changes}
    # when the batch validation and the API's model check it
    _, errors = validate_applicants(pd.DataFrame([applicant]), today="2026-12-31")
    found = rule_problems(load_fields(), [applicant], dt.date(2026, 12, 31))
    api = build_applicant_model()
    with pytest.raises(ValueError) as info:
        api.model_validate(applicant)
    # then all three name the same field with the same reason
    assert errors[["field", "reason"]].values.tolist() == [[field, reason]]
    assert [(p.field, p.reason) for p in found] == [(field, reason)]
    assert [(e["loc"], e["msg"]) for e in info.value.errors()] == [((field,), reason)]  # type: ignore[attr-defined]


def test_a_rule_is_skipped_where_a_field_it_reads_is_missing_or_bad() -> None:
    # given applicants whose loss rule reads a missing or an out-of-range value
    fields = load_fields()
    base = {**example_applicant(), "net_profit": -4e7}
    bad_revenue = {**base, "revenue": -1.0}
    found = rule_problems(fields, [bad_revenue], dt.date(2026, 12, 31))
    # then only the value's own rule is reported, not the cross-field rule it would distort
    assert [(p.field, str(p.reason)) for p in found] == [("revenue", "below the minimum 0")]


def test_a_catalogue_rule_must_read_known_fields() -> None:
    raw = load_fields().model_dump()
    raw["rules"] = [{"id": "typo", "field": "revenue", "check": "revenu > 0", "message": "m"}]
    with pytest.raises(ValueError, match="revenu"):
        FieldsConfig.model_validate(raw)


def test_the_previous_catalogue_still_loads_and_validates() -> None:
    # given the 1.0.0 catalogue as the previous release shipped it (bundles registered then pin it)
    old = load_fields(str(Path(__file__).parent / "catalogues" / "fields-1.0.0.yaml"))
    # then it loads, without lengths or rules, and its model still validates and refuses as it did
    assert old.version == "1.0.0" and old.rules == () and all(f.max_length is None for f in old.fields)
    model = build_applicant_model(old)
    assert model.model_validate(example_applicant()).model_dump(mode="json")["revenue"] == 12_500_000.0
    with pytest.raises(ValueError, match="below the minimum 0"):
        model.model_validate({**example_applicant(), "revenue": -1.0})
