"""The value rules of the field catalogue, checked on typed columns: one implementation for every path.

``configs/fields.yaml`` declares each field's bounds (``min`` / ``max``, ``max_length``), allowed values
(``enum``), ``pattern``, the 统一社会信用代码 check digit, ``not_future``, and the cross-field rules
(``le_field`` on a field, and the catalogue's ``rules``: declarative expressions). This module checks
them on whole columns of already typed values and words every problem the same way, whoever asks: the
batch validation (``datasets.schema.validate_applicants``, behind ``validate``, ``score``, Dask and
``train``) after parsing text cells, and the API's applicant model (``datasets.record``) after its strict
JSON type check. A request and a file row with the same bad value get the same reason.

Typed columns are numpy arrays: float64 for numbers (NaN where missing), object arrays of ``str`` or
``None`` for text and categories, ``datetime64[ns]`` for dates (NaT where missing), bool for booleans.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from credit_points.datasets import uscc
from credit_points.datasets.fields import DEFAULT_MAX_TEXT_LENGTH, FieldsConfig, FieldSpec
from credit_points.expressions import Expression, compile_expression

EARLIEST_DATE = np.datetime64("1900-01-01", "ns")
LATEST_DATE = np.datetime64("2200-12-31", "ns")
_SMALL = 64
USCC_REASON = "not a valid 统一社会信用代码 (GB 32100-2015 format or check digit)"


@dataclass(frozen=True)
class Problem:
    """Rows (0-based positions) where one field breaks one rule, and why (one reason, or one per row)."""

    positions: np.ndarray
    field: str
    reason: str | np.ndarray


def _add(problems: list[Problem], mask: np.ndarray, field: str, reason: str) -> np.ndarray:
    if mask.any():
        problems.append(Problem(np.flatnonzero(mask), field, reason))
    return mask


def number_problems(spec: FieldSpec, values: np.ndarray, checkable: np.ndarray) -> list[Problem]:
    """``min`` / ``max`` of a number column, on the rows ``checkable`` marks (finite, type already good)."""
    return bounds_problems([spec], values[:, None], checkable[:, None])


def bounds_problems(specs: Sequence[FieldSpec], values: np.ndarray, checkable: np.ndarray) -> list[Problem]:
    """``min`` / ``max`` of several number columns at once (``values`` is rows × ``specs``).

    The same problems, in the same order, as :func:`number_problems` column by column, in one comparison
    (a request's applicant has some thirty numbers).
    """
    low = np.array([-np.inf if s.min is None else s.min for s in specs], dtype="float64")
    high = np.array([np.inf if s.max is None else s.max for s in specs], dtype="float64")
    below = checkable & (values < low)
    above = checkable & (values > high)
    problems: list[Problem] = []
    for j in np.flatnonzero(below.any(axis=0) | above.any(axis=0)):
        spec = specs[int(j)]
        if spec.min is not None:
            _add(problems, below[:, j], spec.name, f"below the minimum {spec.min:g}")
        if spec.max is not None:
            _add(problems, above[:, j], spec.name, f"above the maximum {spec.max:g}")
    return problems


def text_problems(spec: FieldSpec, values: np.ndarray | pd.Series, checkable: np.ndarray) -> list[Problem]:
    """Length, ``enum``, ``pattern`` and the USCC check digit of a text column; the first failing rule per row.

    ``values`` is an object array of ``str`` / ``None``, or a Series of pandas' ``str`` dtype (a batch's
    parsed column, used as it is).
    """
    problems: list[Problem] = []
    flagged = ~checkable
    limit = spec.max_length or DEFAULT_MAX_TEXT_LENGTH
    # a batch runs the string rules in Arrow (pandas' str dtype); a request's few rows in plain Python,
    # where building the array would cost more than the work
    if isinstance(values, pd.Series):
        text: pd.Series | None = values if len(values) > _SMALL else None
        values = values.to_numpy(dtype=object, na_value=None) if text is None else values
    else:
        text = pd.Series(values, dtype="str") if len(values) > _SMALL else None
    if text is not None:
        lengths = text.str.len().fillna(0).to_numpy(dtype=np.int64)
    else:
        lengths = np.array([len(v) if isinstance(v, str) else 0 for v in values], dtype=np.int64)
    flagged |= _add(problems, ~flagged & (lengths > limit), spec.name, f"longer than {limit} characters")
    if spec.enum is not None:
        if text is not None:
            known = text.isin(list(spec.enum)).to_numpy(dtype=bool)
        else:
            allowed = frozenset(spec.enum)
            known = np.array([v in allowed for v in values], dtype=bool)
        flagged |= _add(problems, ~flagged & ~known, spec.name, f"not one of {', '.join(spec.enum)}")
    if spec.pattern is not None:
        if text is not None:
            matches = text.str.fullmatch(spec.pattern).fillna(False).to_numpy(dtype=bool)
        else:
            compiled = _pattern(spec.pattern)
            matches = np.array(
                [isinstance(v, str) and compiled.fullmatch(v) is not None for v in values], dtype=bool
            )
        flagged |= _add(problems, ~flagged & ~matches, spec.name, f"does not match {spec.pattern}")
    if spec.check == "uscc":
        cells = text.to_numpy(dtype=object, na_value=None) if text is not None else values
        _add(problems, ~flagged & ~uscc.valid_mask(cells), spec.name, USCC_REASON)
    return problems


def date_problems(
    spec: FieldSpec, values: np.ndarray, checkable: np.ndarray, today: np.datetime64
) -> list[Problem]:
    """The plausible range (1900–2200) and ``not_future`` of a date column."""
    problems: list[Problem] = []
    outside = checkable & ((values < EARLIEST_DATE) | (values > LATEST_DATE))
    _add(problems, outside, spec.name, "outside the plausible range 1900-01-01 to 2200-12-31")
    if spec.not_future:
        day = pd.Timestamp(today).date()
        _add(problems, checkable & ~outside & (values > today), spec.name, f"in the future (after {day})")
    return problems


@lru_cache(maxsize=256)
def _pattern(source: str) -> re.Pattern[str]:
    return re.compile(source)


@lru_cache(maxsize=64)
def _expression(source: str) -> Expression:
    return compile_expression(source)


def cross_field_problems(
    fields: FieldsConfig, typed: Mapping[str, np.ndarray], bad_cells: Mapping[str, np.ndarray]
) -> list[Problem]:
    """``le_field`` bounds, the catalogue's ``rules``, and ``founded_date`` ≤ ``as_of_date``.

    A rule is checked only on rows where every field it reads has a value that passed its own checks
    (``bad_cells`` marks those that did not): a missing optional value breaks no cross-field rule.
    """
    problems: list[Problem] = []
    n = len(next(iter(bad_cells.values()))) if bad_cells else 0
    for spec in fields.fields:
        other = spec.le_field
        if other is None or spec.name not in typed or other not in typed:
            continue
        value = np.asarray(typed[spec.name], dtype="float64")
        bound = np.asarray(typed[other], dtype="float64")
        comparable = ~bad_cells[spec.name] & ~bad_cells[other] & ~np.isnan(value) & ~np.isnan(bound)
        if spec.le_unless_zero:
            comparable &= bound != 0
        label = fields.label(other, "en")
        _add(problems, comparable & (value > bound), spec.name, f"greater than {other} ({label})")
    for rule in fields.rules:
        expr = _expression(rule.check)
        names = sorted(expr.names)
        if not all(name in typed for name in names):
            continue
        applicable = np.ones(n, dtype=bool)
        for name in names:
            column = np.asarray(typed[name])
            applicable &= ~bad_cells[name] & ~pd.isna(column)
        if not applicable.any():
            continue
        holds = np.asarray(expr.evaluate(typed), dtype=bool)
        _add(problems, applicable & ~holds, rule.field, rule.message)
    if "founded_date" in typed and "as_of_date" in typed:
        founded = np.asarray(typed["founded_date"])
        as_of = np.asarray(typed["as_of_date"])
        comparable = (
            ~bad_cells["founded_date"] & ~bad_cells["as_of_date"] & ~np.isnat(founded) & ~np.isnat(as_of)
        )
        _add(problems, comparable & (founded > as_of), "founded_date", "after as_of_date")
    return problems
