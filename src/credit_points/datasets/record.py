"""One applicant as a pydantic model (``ApplicantIn``, built from the field catalogue) and records → frame.

The model is generated from ``configs/fields.yaml`` so that labels, bounds and enum values stay in
config: every field carries a bilingual description ``中文 / English``; numbers must be finite (NaN and
±Infinity are refused, also when sent as the strings ``"NaN"`` or ``"Infinity"``); unknown keys are
refused; category fields are ``Literal`` enums; ``firm_id`` must pass the GB 32100-2015 check digit;
``not_future`` dates may not be after today; cross-field rules (R&D ≤ revenue, R&D staff ≤ employees,
unsecured ≤ bank debt, staff with a degree ≤ employees, founded ≤ as-of date) hold. Error messages name
the field and never repeat the submitted value.

Examples:
    >>> from credit_points.datasets.record import ApplicantIn
    >>> ApplicantIn.model_fields["revenue"].description
    '营业收入 / Operating revenue'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from credit_points.datasets import uscc
from credit_points.datasets.fields import FieldsConfig, FieldSpec, load_fields

_MODELS: dict[str, type[BaseModel]] = {}


class ApplicantBase(BaseModel):
    """Common behaviour of generated applicant models: strict keys, finite numbers, cross-field rules."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, str_strip_whitespace=True)

    # Filled in by build_applicant_model: (field, bound, skip when the bound is zero).
    _le_rules: tuple[tuple[str, str, bool], ...] = ()

    @model_validator(mode="after")
    def _cross_field(self) -> ApplicantBase:
        problems: list[InitErrorDetails] = []
        for name, other, unless_zero in self._le_rules:
            value, bound = getattr(self, name, None), getattr(self, other, None)
            if value is None or bound is None or (unless_zero and bound == 0):
                continue
            if value > bound:
                problems.append(_located(name, "le_field", f"{name} must not exceed {other}"))
        founded, as_of = getattr(self, "founded_date", None), getattr(self, "as_of_date", None)
        if founded is not None and as_of is not None and founded > as_of:
            problems.append(
                _located("founded_date", "date_order", "founded_date must not be after as_of_date")
            )
        if problems:
            # Located at the field (not the model) so a 422 names it; the input is never attached.
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self


def _located(field: str, kind: str, message: str) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=None)


def _uscc_ok(value: str) -> str:
    if not uscc.is_valid(value):
        raise ValueError("not a valid 统一社会信用代码 (GB 32100-2015 format or check digit)")
    return value


def _not_future(value: dt.date) -> dt.date:
    if value > dt.date.today():
        raise ValueError("date must not be in the future")
    return value


def _annotation(spec: FieldSpec) -> Any:
    constraints: dict[str, Any] = {}
    validators: list[Any] = []
    if spec.dtype in ("float", "int"):
        base: Any = float if spec.dtype == "float" else int
        if spec.min is not None:
            constraints["ge"] = spec.min
        if spec.max is not None:
            constraints["le"] = spec.max
    elif spec.dtype == "bool":
        base = bool
    elif spec.dtype == "date":
        base = dt.date
        if spec.not_future:
            validators.append(AfterValidator(_not_future))
    elif spec.dtype == "category":
        base = Literal[tuple(spec.enum or ())]  # type: ignore[misc]
    else:
        base = str
        constraints["min_length"] = 1
        if spec.pattern is not None:
            constraints["pattern"] = spec.pattern
        if spec.check == "uscc":
            validators.append(AfterValidator(_uscc_ok))
    annotated: Any = Annotated[base, *validators] if validators else base
    if spec.nullable or not spec.required:
        annotated = annotated | None
    return annotated, constraints


def build_applicant_model(fields: FieldsConfig | None = None, name: str = "ApplicantIn") -> type[BaseModel]:
    """The pydantic model of one applicant for a field catalogue (cached by the catalogue's hash).

    Nullable fields and fields the catalogue marks not required (the outcome) default to ``None``.
    """
    fields = fields or load_fields()
    key = f"{name}:{fields.content_hash}"
    if key in _MODELS:
        return _MODELS[key]
    definitions: dict[str, Any] = {}
    for spec in fields.fields:
        annotation, constraints = _annotation(spec)
        default = None if (spec.nullable or not spec.required) else ...
        definitions[spec.name] = (
            annotation,
            Field(
                default, title=spec.label_en, description=f"{spec.label_zh} / {spec.label_en}", **constraints
            ),
        )
    model = create_model(
        name, __base__=ApplicantBase, __doc__=f"One applicant ({fields.version}).", **definitions
    )
    model._le_rules = tuple((f.name, f.le_field, f.le_unless_zero) for f in fields.fields if f.le_field)  # type: ignore[attr-defined]
    _MODELS[key] = model
    return model


def applicants_to_frame(
    records: Sequence[Mapping[str, Any]], fields: FieldsConfig | None = None
) -> pd.DataFrame:
    """Validated applicants (JSON-ready dicts) as a frame typed like the good rows of ``validate_applicants``.

    Numbers are float64 (NaN for ``None`` or a missing key), booleans bool, categories and text ``str``,
    dates ``datetime64[ns]`` (from ``date`` objects or ISO text). Columns follow the catalogue; an optional
    column appears only when a record sets it.

    Examples:
        >>> from credit_points.datasets.record import ApplicantIn
        >>> record = ApplicantIn.model_validate(example_applicant()).model_dump(mode="json")
        >>> frame = applicants_to_frame([record])
        >>> str(frame["revenue"].dtype), str(frame["as_of_date"].dtype), str(frame["srdi"].dtype)
        ('float64', 'datetime64[ns]', 'str')
    """
    fields = fields or load_fields()
    columns: dict[str, Any] = {}
    for spec in fields.fields:
        values = [record.get(spec.name) for record in records]
        if not spec.required and all(v is None for v in values):
            continue
        if spec.dtype in ("float", "int"):
            columns[spec.name] = np.array(values, dtype="float64")
        elif spec.dtype == "bool":
            columns[spec.name] = np.array(values, dtype=bool)
        elif spec.dtype == "date":
            columns[spec.name] = np.array(values, dtype="datetime64[D]").astype("datetime64[ns]")
        else:
            columns[spec.name] = _text(values)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)))


_STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


def _text(values: list[Any]) -> Any:
    """``pd.array(values, dtype="str")``, built by Arrow directly when every value is text or missing.

    Examples:
        >>> _text(["a", None]).tolist(), str(_text(["a", None]).dtype)
        (['a', nan], 'str')
    """
    if all(v is None or type(v) is str for v in values):
        import pyarrow as pa

        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()), dtype=_STR_DTYPE)
    return pd.array(values, dtype="str")


def example_applicant() -> dict[str, Any]:
    """A valid applicant as JSON-ready data (a growth-stage software firm), for examples and tests."""
    return {
        "firm_id": "91430100MA4L0XQJ35",
        "name": "长沙示例智能科技有限公司",
        "zone": "changsha_hitech",
        "industry_code": "I65",
        "founded_date": "2016-04-12",
        "as_of_date": "2024-06-30",
        "revenue": 12_500_000.0,
        "revenue_prev": 9_800_000.0,
        "net_profit": 900_000.0,
        "total_assets": 15_000_000.0,
        "total_liabilities": 6_000_000.0,
        "tax_paid": 520_000.0,
        "wages_paid": 4_100_000.0,
        "rd_expense": 1_600_000.0,
        "orders_backlog": 3_000_000.0,
        "gov_subsidies": 200_000.0,
        "equity_financing_3y": None,
        "tech_contract_value": 450_000.0,
        "employees": 48,
        "employees_prev": 41,
        "rd_staff": 19,
        "degree_staff": 35,
        "invention_patents_valid": 6,
        "ip_filings_3y": 14,
        "pct_filings": 0,
        "standards_led": 1,
        "rd_platform_tier": 1,
        "gov_st_projects": 2,
        "national_st_awards": 0,
        "high_level_talent": 1,
        "tech_qualification_tier": 3,
        "srdi": "provincial",
        "capital_market": False,
        "existing_bank_debt": 2_000_000.0,
        "existing_unsecured_debt": 500_000.0,
        "max_overdue_days_24m": 0,
        "tax_credit_grade": "A",
        "admin_penalties_2y": 0,
        "defendant_lawsuits_1y": 0,
        "credit_status": "good",
        "registration_status": "operating",
        "abnormal_operation_list": False,
        "pboc_special_mention_or_npl": False,
    }


def __getattr__(name: str) -> Any:
    """``ApplicantIn`` is built from the default catalogue on first use (no work at import time)."""
    if name == "ApplicantIn":
        return build_applicant_model()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
