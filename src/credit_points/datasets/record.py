"""One applicant as a pydantic model (``ApplicantIn``, built from the field catalogue) and records → frame.

The model is generated from ``configs/fields.yaml`` so that labels, bounds and enum values stay in
config: every field carries a bilingual description ``中文 / English``. The model checks JSON types
strictly (a number is a JSON number, never text or ``true``; a boolean is ``true`` / ``false``; an int
field takes whole numbers; numbers are finite), refuses unknown keys and category codes it does not know,
then hands every value rule of the catalogue (bounds, lengths, patterns, the GB 32100-2015 check digit,
dates, cross-field rules) to :mod:`credit_points.datasets.rules`, the same code the batch validation
runs, so both word each problem the same way. Error messages name the field and never repeat the value.

Examples:
    >>> from credit_points.datasets.record import ApplicantIn
    >>> ApplicantIn.model_fields["revenue"].description
    '营业收入 / Operating revenue'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    Strict,
    StringConstraints,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from credit_points.datasets import rules
from credit_points.datasets.fields import DEFAULT_MAX_TEXT_LENGTH, FieldsConfig, FieldSpec, load_fields

_MODELS: dict[str, type[BaseModel]] = {}


class ApplicantBase(BaseModel):
    """Common behaviour of generated applicant models: strict keys and JSON types, then the catalogue's rules."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, str_strip_whitespace=True)

    # Filled in by build_applicant_model: the catalogue whose value rules the model checks.
    _fields: ClassVar[FieldsConfig | None] = None

    @model_validator(mode="wrap")
    @classmethod
    def _catalogue_rules(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        """Types first; then the value rules on every field whose type was right, reported together."""
        fields = cls._fields
        try:
            model = handler(data)
        except ValidationError as exc:
            if fields is None or not isinstance(data, dict):
                raise
            type_errors = exc.errors(include_url=False)
            failed = {e["loc"][0] for e in type_errors if e["loc"]}
            values = {
                k: v.strip() if isinstance(v, str) else v
                for k, v in data.items()
                if k in fields.by_name and k not in failed
            }
            found = rule_problems(fields, [values], dt.date.today())
            problems = [
                InitErrorDetails(type=e["type"], loc=e["loc"], input=e["input"], ctx=e.get("ctx", {}))
                for e in type_errors
            ]
            problems += [_located(p.field, "value_rule", str(p.reason)) for p in found]
            raise ValidationError.from_exception_data(cls.__name__, problems) from None
        if fields is not None:
            found = rule_problems(fields, [model.__dict__], dt.date.today())
            if found:
                # Located at the field (not the model) so a 422 names it; the input is never attached.
                problems = [_located(p.field, "value_rule", str(p.reason)) for p in found]
                raise ValidationError.from_exception_data(cls.__name__, problems)
        return model


def rule_problems(
    fields: FieldsConfig, applicants: Sequence[Mapping[str, Any]], today: dt.date
) -> list[rules.Problem]:
    """The catalogue's value rules (``datasets.rules``) on applicants whose JSON types are already right.

    Missing values break no rule here (presence is the type check's business); each field reports its
    first failing rule, then the cross-field rules run on the fields that passed.
    """
    n = len(applicants)
    typed: dict[str, np.ndarray] = {}
    bad: dict[str, np.ndarray] = {}
    numeric = [spec for spec in fields.fields if spec.dtype in ("float", "int")]
    matrix = np.array(
        [[np.nan if (v := a.get(spec.name)) is None else v for spec in numeric] for a in applicants],
        dtype="float64",
    ).reshape(n, len(numeric))
    present = ~np.isnan(matrix)
    problems = rules.bounds_problems(numeric, matrix, present)
    for j, spec in enumerate(numeric):
        typed[spec.name], bad[spec.name] = matrix[:, j], np.zeros(n, dtype=bool)
    day = np.datetime64(today, "ns")
    for spec in fields.fields:
        if spec.dtype in ("float", "int"):
            continue
        raw = [a.get(spec.name) for a in applicants]
        given = np.array([v is not None for v in raw], dtype=bool)
        if spec.dtype == "date":
            values = np.array(["NaT" if v is None else v for v in raw], dtype="datetime64[D]")
            values = values.astype("datetime64[ns]")
            found = rules.date_problems(spec, values, given, day)
        elif spec.dtype in ("string", "category"):
            values = np.array(raw, dtype=object)
            found = rules.text_problems(spec, values, given)
        else:
            values, found = np.array([bool(v) for v in raw], dtype=bool), []
        typed[spec.name], bad[spec.name] = values, np.zeros(n, dtype=bool)
        problems.extend(found)
    for problem in problems:
        bad[problem.field][problem.positions] = True
    problems.extend(rules.cross_field_problems(fields, typed, bad))
    return problems


def _located(field: str, kind: str, message: str) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=None)


def _whole_number(value: Any) -> Any:
    """A JSON number that is a whole number (``48.0``) as an int; anything else is left to the strict check."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _annotation(spec: FieldSpec) -> Any:
    """The field's strict JSON type; its value rules are documented in the JSON schema, checked by ``rules``."""
    schema: dict[str, Any] = {}
    validators: list[Any] = []
    if spec.dtype in ("float", "int"):
        # strict: a JSON number only (no text, no true/false); an int field takes 48 and 48.0, not 48.5
        base: Any = Annotated[float, Strict()] if spec.dtype == "float" else Annotated[int, Strict()]
        if spec.dtype == "int":
            validators.append(BeforeValidator(_whole_number))
        if spec.min is not None:
            schema["minimum"] = spec.min
        if spec.max is not None:
            schema["maximum"] = spec.max
    elif spec.dtype == "bool":
        base = Annotated[bool, Strict()]  # JSON true / false only
    elif spec.dtype == "date":
        base = dt.date
    elif spec.dtype == "category":
        base = Literal[tuple(spec.enum or ())]  # type: ignore[misc]
    else:
        base = Annotated[str, Strict(), StringConstraints(min_length=1)]
        schema["maxLength"] = spec.max_length or DEFAULT_MAX_TEXT_LENGTH
        if spec.pattern is not None:
            schema["pattern"] = spec.pattern
    annotated: Any = Annotated[base, *validators] if validators else base
    if spec.nullable or not spec.required:
        annotated = annotated | None
    return annotated, ({"json_schema_extra": schema} if schema else {})


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
    model._fields = fields  # type: ignore[attr-defined]
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
