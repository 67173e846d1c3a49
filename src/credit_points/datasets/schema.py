"""The applicant record's contract: the pandera schema and the vectorised row-level validation.

:func:`validate_applicants` coerces every catalogue column to its type and checks every rule of
``configs/fields.yaml`` on whole columns at once. It returns the good rows, typed, and one error row per
problem — a bad row is reported, never dropped silently. :func:`applicant_schema` is the same contract
as a pandera ``DataFrameSchema``; the good rows are checked against it before they are returned.

Rules, in the order they are checked for each field (a field reports its first failing rule per row):

1. type: a number, an integer (whole number), ``true``/``false``, text or an ISO date must parse;
2. presence: a non-nullable field must have a value (empty text counts as missing);
3. numbers must be finite (no NaN where a value is required, never ±inf);
4. ``min`` / ``max`` bounds, ``enum`` membership, ``pattern`` (full match);
5. ``check: uscc``: the GB 32100-2015 check digit of 统一社会信用代码;
6. ``not_future``: not after ``today``; dates outside 1900–2200 are rejected as implausible;
7. cross-field: ``le_field`` (e.g. R&D expense ≤ revenue, skipped when ``le_unless_zero`` and the bound
   is zero), ``founded_date`` ≤ ``as_of_date``, and a unique (``firm_id``, ``as_of_date``) key (every
   row sharing a key is reported: the batch cannot tell which one is right).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa

from credit_points.datasets import rules, uscc
from credit_points.datasets.fields import DEFAULT_MAX_TEXT_LENGTH, FieldsConfig, FieldSpec, load_fields
from credit_points.datasets.rules import Problem as _Problem
from credit_points.exceptions import DataValidationError
from credit_points.expressions import compile_expression

ERROR_COLUMNS = ["row", "firm_id", "field", "value", "reason"]
KEY_COLUMNS = ("firm_id", "as_of_date")
EARLIEST_DATE = pd.Timestamp(rules.EARLIEST_DATE)
LATEST_DATE = pd.Timestamp(rules.LATEST_DATE)
# Dates are calendar dates in China; timestamps with an offset are read in this zone, then the time dropped.
LOCAL_TIMEZONE = "Asia/Shanghai"
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
_NUMERIC = ("float", "int")
# Text that means "no value" in exported spreadsheets and CSV files (compared lower-case, stripped).
NULL_TOKENS = ("", "nan", "-nan", "na", "n/a", "#n/a", "null", "none", "<na>", "nat")


def empty_errors() -> pd.DataFrame:
    """An error frame with no rows and the contract's columns and types."""
    return pd.DataFrame(
        {
            "row": pd.Series([], dtype="int64"),
            "firm_id": pd.Series([], dtype="str"),
            "field": pd.Series([], dtype="str"),
            "value": pd.Series([], dtype="str"),
            "reason": pd.Series([], dtype="str"),
        }
    )


def _as_today(today: dt.date | str | pd.Timestamp | None) -> pd.Timestamp:
    if today is None:
        return pd.Timestamp.now().normalize()
    stamp = pd.Timestamp(today)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize()


def _missing_text(raw: pd.Series, allowed: tuple[str, ...] = ()) -> np.ndarray:
    """Null, or text that means no value (empty, ``NaN``, ``N/A``, ``null`` ...; see ``NULL_TOKENS``).

    Values in ``allowed`` (an enum's codes, such as ``none``) are never missing.
    """
    null = raw.isna().to_numpy()
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        tokens = [t for t in NULL_TOKENS if t not in allowed]
        text = raw.astype("str").str.strip()
        blank = text.str.lower().isin(tokens).fillna(False).to_numpy(dtype=bool)
        if allowed:
            blank = blank & ~text.isin(list(allowed)).fillna(False).to_numpy(dtype=bool)
        return null | blank
    return null


def _coerce_numeric(spec: FieldSpec, raw: pd.Series, problems: list[_Problem]) -> np.ndarray:
    if pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype="float64")
        unparsed = np.zeros(len(raw), dtype=bool)
    elif pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
        unparsed = np.zeros(len(raw), dtype=bool)
    else:
        blank = _missing_text(raw)
        text = raw.astype("str").str.strip()
        values = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        unparsed = np.isnan(values) & ~blank
    kind = "an integer" if spec.dtype == "int" else "a number"
    if unparsed.any():
        problems.append(_Problem(np.flatnonzero(unparsed), spec.name, f"not {kind}"))
    flagged = unparsed.copy()
    missing = np.isnan(values) & ~flagged
    if not spec.nullable and missing.any():
        problems.append(_Problem(np.flatnonzero(missing), spec.name, "required value is missing or NaN"))
    flagged |= missing
    infinite = np.isinf(values)
    if infinite.any():
        problems.append(_Problem(np.flatnonzero(infinite), spec.name, "must be finite (not ±inf)"))
    flagged |= infinite
    finite = ~flagged & ~np.isnan(values)
    if spec.dtype == "int":
        fractional = finite & (np.floor(values) != values)
        if fractional.any():
            problems.append(_Problem(np.flatnonzero(fractional), spec.name, "not a whole number"))
        flagged |= fractional
        finite &= ~fractional
    problems.extend(rules.number_problems(spec, values, finite))
    return values


def _coerce_bool(spec: FieldSpec, raw: pd.Series, problems: list[_Problem]) -> np.ndarray:
    if pd.api.types.is_bool_dtype(raw.dtype) and not raw.isna().any():
        return raw.to_numpy(dtype=bool)
    missing = raw.isna().to_numpy()
    text = raw.astype("str").str.strip().str.lower()
    is_true = text.isin(list(_TRUE)).to_numpy(dtype=bool)
    is_false = text.isin(list(_FALSE)).to_numpy(dtype=bool)
    blank = _missing_text(raw)
    missing = missing | blank
    unparsed = ~missing & ~is_true & ~is_false
    if unparsed.any():
        problems.append(_Problem(np.flatnonzero(unparsed), spec.name, "not a boolean (true/false)"))
    if missing.any() and not spec.nullable:
        problems.append(_Problem(np.flatnonzero(missing), spec.name, "required value is missing"))
    return is_true


def _coerce_text(spec: FieldSpec, raw: pd.Series, problems: list[_Problem]) -> pd.Series:
    blank = _missing_text(raw, spec.enum or ())
    text = raw.astype("str").where(~blank)
    flagged = blank.copy()
    if blank.any() and not spec.nullable:
        problems.append(_Problem(np.flatnonzero(blank), spec.name, "required value is missing"))
    problems.extend(rules.text_problems(spec, text, ~flagged))
    return text


def _parse_dates(text: pd.Series) -> pd.Series:
    """ISO 8601 text → naive local dates; offsets (``+08:00``, ``Z``) are converted to China time first."""
    try:
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    except ValueError:  # mixed offsets
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    return _naive_local(parsed)


def _naive_local(stamps: pd.Series) -> pd.Series:
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None)
    return stamps.dt.normalize()


def _coerce_date(
    spec: FieldSpec, raw: pd.Series, today: pd.Timestamp, problems: list[_Problem]
) -> np.ndarray:
    if isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(raw.dtype):
        parsed = _naive_local(raw)
        blank = parsed.isna().to_numpy()
    else:
        blank = _missing_text(raw)
        text = raw.astype("str").str.strip().where(~blank)
        parsed = _parse_dates(text)
    unparsed = parsed.isna().to_numpy() & ~blank
    if unparsed.any():
        problems.append(_Problem(np.flatnonzero(unparsed), spec.name, "not a date (expected YYYY-MM-DD)"))
    if blank.any() and not spec.nullable:
        problems.append(_Problem(np.flatnonzero(blank), spec.name, "required value is missing"))
    ok = ~parsed.isna().to_numpy()
    values = parsed.to_numpy(dtype="datetime64[ns]")
    found = rules.date_problems(spec, values, ok, np.datetime64(today.to_datetime64(), "ns"))
    for problem in found:
        ok[problem.positions] = False
    problems.extend(found)
    return np.where(ok, values, np.datetime64("NaT", "ns"))


def _cross_checks(
    fields: FieldsConfig, typed: dict[str, object], bad_cells: dict[str, np.ndarray], problems: list[_Problem]
) -> None:
    # text columns stay Series: a cross-field rule reads only the few columns it names
    problems.extend(rules.cross_field_problems(fields, typed, bad_cells))  # type: ignore[arg-type]


def _duplicate_keys(frame: pd.DataFrame, typed: dict[str, object], problems: list[_Problem]) -> None:
    if not all(key in typed for key in KEY_COLUMNS):
        return
    keys = pd.DataFrame({key: typed[key] for key in KEY_COLUMNS})
    complete = keys.notna().all(axis=1).to_numpy()
    repeated = keys.duplicated(keep=False).to_numpy() & complete
    if not repeated.any():
        return
    positions = np.flatnonzero(repeated)
    dupes = keys.iloc[positions].assign(_row=positions + 1)
    first = dupes.groupby(list(KEY_COLUMNS), sort=False)["_row"].transform("min").to_numpy()
    count = dupes.groupby(list(KEY_COLUMNS), sort=False)["_row"].transform("size").to_numpy()
    reason = np.char.add(
        np.char.add("duplicate (firm_id, as_of_date): ", count.astype(str)),
        np.char.add(" rows share it, first at row ", first.astype(str)),
    ).astype(object)
    problems.append(_Problem(positions, "firm_id", reason))


def _display(values: np.ndarray) -> np.ndarray:
    """Original cell values as text for the error frame ('' for missing)."""
    series = pd.Series(values, dtype=object)
    text = series.astype("str")
    return text.where(series.notna(), "").to_numpy(dtype=object)


def error_rows(frame: pd.DataFrame, problems: list[_Problem], fields: FieldsConfig) -> pd.DataFrame:
    """One error row per problem (``row``, ``firm_id``, ``field``, ``value`` as sent, ``reason``), by row.

    ``frame`` is the batch as read; problem positions are 0-based positions in it.
    """
    if not problems:
        return empty_errors()
    order = {name: i for i, name in enumerate(fields.names)}
    firm_raw = (
        frame["firm_id"].to_numpy(dtype=object)
        if "firm_id" in frame
        else np.full(len(frame), None, dtype=object)
    )
    parts = []
    for problem in problems:
        column = frame[problem.field] if problem.field in frame else pd.Series([None] * len(frame))
        raw = column.to_numpy(dtype=object)[problem.positions]
        reason = (
            problem.reason
            if isinstance(problem.reason, np.ndarray)
            else np.full(problem.positions.size, problem.reason, dtype=object)
        )
        parts.append(
            pd.DataFrame(
                {
                    "row": problem.positions.astype("int64") + 1,
                    "firm_id": _display(firm_raw[problem.positions]),
                    "field": problem.field,
                    "value": _display(raw),
                    "reason": reason,
                    "_order": order.get(problem.field, len(order)),
                }
            )
        )
    errors = pd.concat(parts, ignore_index=True).sort_values(["row", "_order"], kind="stable")
    errors = errors.drop(columns="_order").reset_index(drop=True)
    return errors.astype({"row": "int64", "firm_id": "str", "field": "str", "value": "str", "reason": "str"})


def missing_columns(
    columns: Sequence[str], fields: FieldsConfig | None = None, *, require_outcome: bool = False
) -> list[str]:
    """Catalogue columns that a table must have and ``columns`` lacks.

    A nullable field may be left out of a table, as it may be left out of an API request: its column is
    then missing everywhere.
    """
    fields = fields or load_fields()
    present = set(columns)
    return [
        f.name
        for f in fields.fields
        if ((f.required and not f.nullable) or (require_outcome and f.group == "outcome"))
        and f.name not in present
    ]


def decision_columns(
    columns: Sequence[str],
    fields: FieldsConfig | None = None,
    *,
    drop_unknown: bool = False,
    path: str | None = None,
) -> list[str]:
    """The columns of a file to be decided that must go before deciding; refuses what may not be decided.

    The rule of every decision path (API, ``score``, Dask): an outcome column (``default_12m``) is never
    an input of a decision, and a column the catalogue does not know is refused with its name — or, with
    ``drop_unknown`` (banks' extracts carry internal columns), dropped and returned so the caller lists it.

    Raises:
        DataValidationError: an outcome column, or unknown columns without ``drop_unknown``.

    Examples:
        >>> decision_columns(["firm_id", "revenue", "branch_code"], drop_unknown=True)
        ['branch_code']
    """
    fields = fields or load_fields()
    outcome = [c for c in columns if c in fields.by_name and fields.by_name[c].group == "outcome"]
    if outcome:
        raise DataValidationError(
            f"{', '.join(outcome)} is an outcome, not an input of a decision; remove the column",
            field=outcome[0],
            path=path,
        )
    unknown = [str(c) for c in columns if c not in fields.by_name]
    if unknown and not drop_unknown:
        raise DataValidationError(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:20])}"
            f"{f' and {len(unknown) - 20} more' if len(unknown) > 20 else ''}; "
            "remove them or pass --drop-unknown-columns",
            field=unknown[0],
            path=path,
        )
    return unknown


def validate_applicants(
    frame: pd.DataFrame,
    fields: FieldsConfig | None = None,
    *,
    today: dt.date | str | pd.Timestamp | None = None,
    require_outcome: bool = False,
    path: str | None = None,
    check_contract: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a batch of applicant rows into typed good rows and one error row per problem.

    Args:
        frame: applicant rows as read (text or typed columns); extra columns pass through unchanged.
        fields: the catalogue (default ``configs/fields.yaml``).
        today: the date ``as_of_date`` may not exceed (default: today's local date).
        require_outcome: the outcome column ``default_12m`` must be present (training data).
        path: the file the rows came from, named in errors.
        check_contract: also check the good rows against :func:`applicant_schema` (pandera), a guard
            against defects in this module; about half the run time on large batches.

    Returns:
        ``(good, errors)``. ``good`` keeps the input's index and column order of the catalogue (then the
        extra columns); numbers (float and int fields) are float64, booleans bool, categories and text
        ``str``, dates ``datetime64[ns]``. ``errors`` has the columns ``row`` (1-based position in the
        input), ``firm_id``, ``field``, ``value`` (the original cell as text) and ``reason``.

    Raises:
        DataValidationError: when a required column is missing (naming the column and the file).

    Examples:
        >>> rows = pd.DataFrame({"firm_id": ["91350100M000100Y43", "91350100M000100Y44"], "revenue": ["1e6", "-5"]})
        >>> good, errors = validate_applicants(rows, _subset("firm_id", "revenue"))
        >>> len(good), errors[["row", "field", "reason"]].values.tolist()
        (1, [[2, 'firm_id', 'not a valid 统一社会信用代码 (GB 32100-2015 format or check digit)'], [2, 'revenue', 'below the minimum 0']])
    """
    fields = fields or load_fields()
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"expected a DataFrame; got {type(frame).__name__}", path=path)
    absent = missing_columns(frame.columns, fields, require_outcome=require_outcome)
    if absent:
        raise DataValidationError(
            f"missing column{'s' if len(absent) > 1 else ''} {', '.join(absent)}", field=absent[0], path=path
        )
    now = _as_today(today)
    problems: list[_Problem] = []
    typed: dict[str, object] = {}
    bad_cells: dict[str, np.ndarray] = {}
    for spec in fields.fields:
        if spec.name not in frame.columns:
            if not (spec.nullable and spec.required):
                continue
            raw = pd.Series([None] * len(frame), index=frame.index, dtype=object)  # left out: missing
        else:
            raw = frame[spec.name]
        before = len(problems)
        if spec.dtype in _NUMERIC:
            typed[spec.name] = _coerce_numeric(spec, raw, problems)
        elif spec.dtype == "bool":
            typed[spec.name] = _coerce_bool(spec, raw, problems)
        elif spec.dtype == "date":
            typed[spec.name] = _coerce_date(spec, raw, now, problems)
        else:
            typed[spec.name] = _coerce_text(spec, raw, problems)
        cells = np.zeros(len(frame), dtype=bool)
        for problem in problems[before:]:
            cells[problem.positions] = True
        bad_cells[spec.name] = cells
    _cross_checks(fields, typed, bad_cells, problems)
    _duplicate_keys(frame, typed, problems)

    bad = np.zeros(len(frame), dtype=bool)
    for problem in problems:
        bad[problem.positions] = True
    columns: dict[str, object] = {}
    for name, values in typed.items():
        if isinstance(values, pd.Series):
            columns[name] = values.to_numpy(dtype=object, na_value=np.nan)
        else:
            columns[name] = values
    good = pd.DataFrame(columns, index=frame.index)
    for spec in fields.fields:
        if spec.dtype in ("string", "category") and spec.name in good:
            good[spec.name] = good[spec.name].astype("str")
    extras = [c for c in frame.columns if c not in typed]
    if extras:
        good = pd.concat([good, frame[extras]], axis=1)
    good = good.iloc[np.flatnonzero(~bad)]
    if check_contract:
        _check_contract(good, fields, path)
    return good, error_rows(frame, problems, fields)


_SCHEMAS: dict[str, pa.DataFrameSchema] = {}


def _check_contract(good: pd.DataFrame, fields: FieldsConfig, path: str | None) -> None:
    """The good rows must satisfy the pandera contract; a failure here is a defect, not bad input."""
    key = fields.content_hash
    if key not in _SCHEMAS:
        _SCHEMAS[key] = applicant_schema(fields)
    try:
        _SCHEMAS[key].validate(good, lazy=False)
    except (pa.errors.SchemaError, pa.errors.SchemaErrors) as exc:
        raise DataValidationError(f"validated rows break the applicant contract: {exc}", path=path) from exc


def _check_le(name: str, other: str, unless_zero: bool) -> pa.Check:
    def le(frame: pd.DataFrame) -> pd.Series:
        if name not in frame or other not in frame:
            return pd.Series(True, index=frame.index)
        ok = ~(frame[name] > frame[other])
        if unless_zero:
            ok |= frame[other] == 0
        return ok

    return pa.Check(le, name=f"{name}_le_{other}", error=f"{name} must not exceed {other}")


def _check_rule(rule_id: str, source: str) -> pa.Check:
    expr = compile_expression(source)

    def holds(frame: pd.DataFrame) -> pd.Series:
        if not all(name in frame for name in expr.names):
            return pd.Series(True, index=frame.index)
        missing = frame[sorted(expr.names)].isna().any(axis=1).to_numpy()
        return pd.Series(missing | np.asarray(expr.evaluate(frame), dtype=bool), index=frame.index)

    return pa.Check(holds, name=rule_id, error=f"rule {rule_id}: {source}")


def _founded_before(frame: pd.DataFrame) -> pd.Series:
    if "founded_date" not in frame or "as_of_date" not in frame:
        return pd.Series(True, index=frame.index)
    return ~(frame["founded_date"] > frame["as_of_date"])


def applicant_schema(fields: FieldsConfig | None = None) -> pa.DataFrameSchema:
    """The applicant record as a pandera ``DataFrameSchema`` (the typed form of :func:`validate_applicants`).

    Column checks come from the catalogue (bounds, enums, patterns, nullability, the USCC check digit);
    frame checks hold the cross-field rules and the unique (``firm_id``, ``as_of_date``) key. Columns the
    catalogue marks not required may be absent; extra columns are allowed.

    Examples:
        >>> schema = applicant_schema()
        >>> schema.columns["tax_credit_grade"].checks[0].statistics["allowed_values"]
        ['A', 'B', 'M', 'C', 'D']
    """
    fields = fields or load_fields()
    columns: dict[str, pa.Column] = {}
    for spec in fields.fields:
        checks: list[pa.Check] = []
        if spec.dtype in _NUMERIC:
            dtype: object = "float64"
            if spec.min is not None:
                checks.append(pa.Check.ge(spec.min))
            if spec.max is not None:
                checks.append(pa.Check.le(spec.max))
            checks.append(pa.Check(lambda s: np.isfinite(s) | s.isna(), name="finite"))
            if spec.dtype == "int":
                checks.append(pa.Check(lambda s: (np.floor(s) == s) | s.isna(), name="whole_number"))
        elif spec.dtype == "bool":
            dtype = "bool"
        elif spec.dtype == "date":
            dtype = "datetime64[ns]"
            checks.append(pa.Check.in_range(EARLIEST_DATE, LATEST_DATE))
        else:
            dtype = "str"
            if spec.enum is not None:
                checks.append(pa.Check.isin(list(spec.enum)))
            if spec.pattern is not None:
                checks.append(pa.Check.str_matches(spec.pattern))
            checks.append(pa.Check.str_length(max_value=spec.max_length or DEFAULT_MAX_TEXT_LENGTH))
            if spec.check == "uscc":
                checks.append(
                    pa.Check(lambda s: pd.Series(uscc.valid_mask(s), index=s.index), name="uscc_check_digit")
                )
        columns[spec.name] = pa.Column(
            dtype,
            checks=checks,
            nullable=spec.nullable,
            required=spec.required,
            description=f"{spec.label_zh} / {spec.label_en}",
        )
    frame_checks = [_check_le(f.name, f.le_field, f.le_unless_zero) for f in fields.fields if f.le_field]
    frame_checks.append(
        pa.Check(_founded_before, name="founded_before_as_of", error="founded_date after as_of_date")
    )
    frame_checks.extend(_check_rule(rule.id, rule.check) for rule in fields.rules)
    names = set(fields.names)
    unique = [key for key in KEY_COLUMNS if key in names]
    return pa.DataFrameSchema(
        columns,
        checks=frame_checks,
        unique=unique or None,
        strict=False,
        coerce=False,
        name="applicants",
    )


def _subset(*names: str) -> FieldsConfig:
    """A catalogue holding only ``names`` (for examples and focused tests)."""
    full = load_fields()
    return FieldsConfig(version=full.version, fields=tuple(full.by_name[name] for name in names))
