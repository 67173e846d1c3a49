"""Decision records as canonical JSON text, built column by column for a whole batch (``score --audit``).

:func:`records.decision_records` builds one nested dict per row, and ``config.canonical_json`` encodes it:
right for the API's few records a request, but ~0.5 ms a row, so a 100,000-row file would spend most of its
time there. This module writes the same bytes without building a dict per row. Every leaf of the record is
rendered for the whole batch at once (numbers through Arrow's shortest round-trip formatting, text through
the JSON string encoder once per distinct value), and the record is joined element-wise in Arrow from the
leaves and the constant pieces between them, keys in canonical (sorted) order.

The bytes are those of ``canonical_json(decision_records(...))`` for the same rows: numbers in ``[1e-4,
1e10)`` (and zero) come from Arrow, which then agrees with Python's ``repr`` digit for digit once an
integral value gets its ``.0``; every other number is formatted by ``repr`` itself. Tests hold the two paths
byte-identical on every kind of decision, and :func:`encode_records` checks a sample of every batch against
the per-row path before anything is stored (``check_rows``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from credit_points.config import canonical_json
from credit_points.records import (
    DECISION_LOGIC,
    RECORD_SCHEMA,
    WATERFALL_STEPS,
    decision_records,
    input_records_of,
    split_codes,
    trigger_section,
)

if TYPE_CHECKING:
    from credit_points.engine import DecisionEngine

_NULL = "null"
#: Arrow's shortest round-trip formatting agrees with ``repr`` on this range (once ``.0`` is added)
_ARROW_LOW, _ARROW_HIGH = 1e-4, 1e10


class _Json:
    """One JSON value for every row: a constant, or a column of rendered fragments (an Arrow string array)."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[str | pa.Array]) -> None:
        self.parts = parts

    @classmethod
    def const(cls, value: Any) -> _Json:
        return cls([canonical_json(value)])

    @classmethod
    def column(cls, fragments: pa.Array) -> _Json:
        return cls([fragments])


def _obj(members: Mapping[str, _Json]) -> _Json:
    """A JSON object whose keys are sorted, as ``canonical_json`` writes them."""
    parts: list[str | pa.Array] = ["{"]
    for i, key in enumerate(sorted(members)):
        parts.append(("," if i else "") + encode_basestring(key) + ":")
        parts.extend(members[key].parts)
    parts.append("}")
    return _Json(parts)


def _arr(items: Sequence[_Json]) -> _Json:
    parts: list[str | pa.Array] = ["["]
    for i, item in enumerate(items):
        if i:
            parts.append(",")
        parts.extend(item.parts)
    parts.append("]")
    return _Json(parts)


def _join(value: _Json, n: int) -> pa.Array:
    """The fragments joined element-wise into one string per row (adjacent constants merged first)."""
    merged: list[str | pa.Array] = []
    for part in value.parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    arrays = [p for p in merged if not isinstance(p, str)]
    if not arrays:
        return pa.array([merged[0]] * n, pa.large_string())
    # large strings: a batch of records is far beyond the 2 GiB a plain string array may hold
    scalar = pa.scalar
    args = [scalar(p, pa.large_string()) if isinstance(p, str) else p.cast(pa.large_string()) for p in merged]
    return pc.binary_join_element_wise(*args, scalar("", pa.large_string()))


# ------------------------------------------------------------------------------------------- leaves
def _floats(values: Any) -> _Json:
    """Numbers as ``json`` writes ``float`` values (``repr``), non-finite as null (``records._plain``)."""
    arr = np.asarray(values, dtype="float64")
    finite = np.isfinite(arr)
    magnitude = np.abs(arr)
    arrow_ok = finite & (((magnitude >= _ARROW_LOW) & (magnitude < _ARROW_HIGH)) | (arr == 0.0))
    text = pc.cast(pa.array(arr), pa.string())
    # Arrow writes an integral value without its ".0" (only values below 1e10 reach here: no exponent)
    integral = arrow_ok & (arr == np.floor(arr))
    if integral.all():
        text = pc.binary_join_element_wise(text, ".0", "")
    elif integral.any():
        text = pc.binary_join_element_wise(text, pc.if_else(pa.array(integral), ".0", ""), "")
    if arrow_ok.all():
        return _Json.column(text)
    others = [repr(v) if math.isfinite(v) else _NULL for v in arr[~arrow_ok].tolist()]
    return _Json.column(pc.replace_with_mask(text, pa.array(~arrow_ok), pa.array(others, pa.string())))


def _ints_or_null(values: Any) -> _Json:
    """``int(value)`` or null (``records._rank``)."""
    arr = np.asarray(values, dtype="float64")
    known = ~np.isnan(arr)
    ints = pa.array(np.where(known, arr, 0).astype("int64")).cast(pa.string())
    return _Json.column(pc.if_else(pa.array(known), ints, _NULL))


def _bools(values: Any) -> _Json:
    arr = np.asarray(values, dtype=bool)
    return _Json.column(pc.if_else(pa.array(arr), "true", "false"))


def _by_value(values: Any, render: Any) -> _Json:
    """Render each distinct value once (``render(value) -> JSON text``) and spread it over the rows."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    rendered = [render(u) for u in uniques.tolist()] + [render(None)]
    codes = np.where(codes < 0, len(rendered) - 1, codes)
    return _Json.column(pc.take(pa.array(rendered, pa.string()), pa.array(codes)))


def _texts(values: Any) -> _Json:
    """Strings as they are; missing as null."""
    return _by_value(values, lambda v: _NULL if _missing(v) else encode_basestring(str(v)))


def _text_or_null(values: Any) -> _Json:
    """``value or None``: an empty or missing string is null (``limit.product``)."""
    return _by_value(values, lambda v: _NULL if _missing(v) or v == "" else encode_basestring(str(v)))


def _code_lists(values: Any) -> _Json:
    """``;``-joined codes as a JSON list (``records.split_codes``)."""
    return _by_value(values, lambda v: canonical_json(split_codes(None if _missing(v) else v)))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _dates(values: pd.Series) -> _Json:
    """Dates as ``"YYYY-MM-DD"``; missing as null."""
    days = pd.to_datetime(values).dt.strftime("%Y-%m-%d")
    return _by_value(days.to_numpy(dtype=object), lambda v: _NULL if _missing(v) else f'"{v}"')


# ------------------------------------------------------------------------------------------ records
@dataclass(frozen=True)
class EncodedRecords:
    """A batch of decision records as the audit store keeps them: text, its hash and the indexed values."""

    texts: list[str]
    record_sha256: list[str]
    input_sha256: list[str]
    prob_default: list[float | None]
    limit: list[float | None]
    decision: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def input_json(frame: pd.DataFrame, engine: DecisionEngine) -> _Json:
    """Each row's canonical input as ``records.input_records_of`` gives it: every catalogue input field."""
    members: dict[str, _Json] = {}
    for spec in engine.fields.fields:
        if spec.group == "outcome":
            continue
        if spec.name not in frame.columns:
            members[spec.name] = _Json(["false" if spec.dtype == "bool" else _NULL])
            continue
        column = frame[spec.name]
        if spec.dtype in ("float", "int"):
            members[spec.name] = _floats(
                pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            )
        elif spec.dtype == "bool":
            members[spec.name] = _bools(column.fillna(False).to_numpy(dtype=bool))
        elif spec.dtype == "date":
            members[spec.name] = _dates(column)
        else:
            members[spec.name] = _texts(column.to_numpy(dtype=object))
    return _obj(members)


def _points_json(engine: DecisionEngine, cols: Mapping[str, Any]) -> _Json:
    cfg = engine.points_config
    indicators = [
        _obj(
            {
                "id": _Json.const(ind.id),
                "category": _Json.const(ind.category),
                "value": _floats(cols[f"ind_{ind.id}_value"]),
                "pct": _floats(cols[f"ind_{ind.id}_pct"]),
                "points": _floats(cols[f"ind_{ind.id}_points"]),
            }
        )
        for ind in cfg.indicators
    ]
    return _obj(
        {
            "config_version": _Json.const(cfg.version),
            "config_hash": _Json.const(engine.versions["points"]["hash"]),
            "profile": _Json.const(cfg.profile),
            "stage": _texts(cols["stage"]),
            "total": _floats(cols["points_total"]),
            "core": _floats(cols["points_core"]),
            "bonus": _floats(cols["points_bonus"]),
            "deductions": _floats(cols["points_deductions"]),
            "veto": _bools(cols["veto"]),
            "veto_reasons": _code_lists(cols["veto_reasons"]),
            "categories": _obj({c: _floats(cols[f"points_cat_{c}"]) for c in cfg.category_ids}),
            "indicators": _arr(indicators),
            "bonus_items": _obj(
                {i.id: _floats(cols[f"bonus_{i.id}"]) for i in cfg.bonus.items if f"bonus_{i.id}" in cols}
            ),
            "deduction_items": _obj(
                {
                    i.id: _floats(cols[f"deduction_{i.id}"])
                    for i in cfg.deductions.items
                    if f"deduction_{i.id}" in cols
                }
            ),
            "rank_zone": _ints_or_null(cols["rank_zone"]),
            "rank_stage": _ints_or_null(cols["rank_stage"]),
        }
    )


def _risk_json(cols: Mapping[str, Any], names: list[str], n: int) -> _Json:
    features = [c.removeprefix("contrib_") for c in names if c.startswith("contrib_") and c != "contrib_base"]
    has_contrib = np.zeros(n, dtype=bool)
    if features and "contrib_base" in cols:
        has_contrib = ~pd.isna(np.asarray(cols["contrib_base"], dtype="float64"))
    contributions = _Json([_NULL])
    contrib_base = _Json([_NULL])
    if has_contrib.any():
        where = np.flatnonzero(has_contrib)
        sub = _obj({f: _floats(np.asarray(cols[f"contrib_{f}"], dtype="float64")[where]) for f in features})
        filled = pa.array(np.full(n, _NULL, dtype=object), pa.large_string())
        contributions = _Json.column(
            pc.replace_with_mask(filled, pa.array(has_contrib), _join(sub, len(where)))
        )
        base = _floats(cols["contrib_base"]).parts[0]
        contrib_base = _Json.column(pc.if_else(pa.array(has_contrib), base, _NULL))
    return _obj(
        {
            "raw_score": _floats(cols["raw_score"]),
            "prob_default": _floats(cols["prob_default"]),
            "grade": _texts(np.asarray(cols["grade"], dtype=object)),
            "contributions": contributions,
            "contrib_base": contrib_base,
        }
    )


def _limit_json(cols: Mapping[str, Any]) -> _Json:
    return _obj(
        {
            "product": _text_or_null(cols["product"]),
            "capacity": _floats(cols["capacity"]),
            "points_multiplier": _floats(cols["points_multiplier"]),
            "risk_multiplier": _floats(cols["risk_multiplier"]),
            "waterfall": _arr(
                [
                    _obj({"step": _Json.const(step), "value": _floats(cols[col])})
                    for step, col in WATERFALL_STEPS
                ]
            ),
            "binding_constraint": _texts(cols["binding_constraint"]),
            "limit": _floats(cols["limit"]),
            "rate": _floats(cols["rate"]),
            "ead": _floats(cols["ead"]),
            "lgd": _floats(cols["lgd"]),
            "expected_loss": _floats(cols["expected_loss"]),
            "expected_loss_net": _floats(cols["expected_loss_net"]),
        }
    )


def _trigger_json(engine: DecisionEngine, cols: Mapping[str, Any], reasons: list[Any], n: int) -> _Json:
    """``records.trigger_section`` on each refer or decline (null on approvals).

    A decline's section depends on the PD only through its ``value`` (the PD itself): it is computed once
    per distinct (binding step, reason codes, failed rules) and the row's PD is written into it. A referral's
    kind depends on its PD against the product's refer line, so each referral is computed on its own.
    """
    decision = np.asarray(cols["decision"], dtype=object)
    adverse = np.flatnonzero((decision == "refer") | (decision == "decline"))
    out = np.full(n, _NULL, dtype=object)
    if not len(adverse):
        return _Json.column(pa.array(out, pa.string()))
    needed = ["decision", "product", "prob_default", "binding_constraint", "reason_codes"] + [
        f"failed_rules_{p.id}" for p in engine.policy.products
    ]
    picked = {k: np.asarray(cols[k], dtype=object)[adverse].tolist() for k in needed}
    rules = [picked[f"failed_rules_{p.id}"] for p in engine.policy.products]
    prob = np.asarray(cols["prob_default"], dtype="float64")[adverse]
    values = _join(_floats(prob), len(adverse)).to_pylist()
    templates: dict[tuple[Any, ...], tuple[str, str | None]] = {}
    for j, i in enumerate(adverse.tolist()):
        key = None
        if picked["decision"][j] == "decline":
            key = (picked["binding_constraint"][j], picked["reason_codes"][j], *(r[j] for r in rules))
            template = templates.get(key)
            if template is not None:
                head, tail = template
                out[i] = head if tail is None else head + values[j] + tail
                continue
        row = {k: v[j] for k, v in picked.items()}
        section = trigger_section(engine, row, reasons[i])
        text = canonical_json(section)
        out[i] = text
        if key is not None:
            found = _value_template(section, text, values[j])
            if found is not None:
                templates[key] = found
    return _Json.column(pa.array(out, pa.string()))


def _value_template(
    section: Mapping[str, Any] | None, text: str, value: str
) -> tuple[str, str | None] | None:
    """How to write this section for another row of the same key: ``(text, None)`` when it has no value,
    ``(head, tail)`` around its ``"value"`` when that is the row's PD (rendered as ``value``), else None."""
    if section is None:
        return None
    if section.get("value") is None:
        return text, None
    plain = dict(section)
    plain["value"] = None
    empty = canonical_json(plain)
    where = empty.find('"value":null')
    if where < 0:
        return None
    head, tail = empty[: where + len('"value":')], empty[where + len('"value":null') :]
    return (head, tail) if head + value + tail == text else None


def _reason_lists(engine: DecisionEngine, values: Any) -> tuple[_Json, list[Any]]:
    """The ``reason_codes`` list of each row (rendered once per distinct code string) and the lists themselves."""
    codes = engine.reason_codes_config
    series = pd.Series(np.asarray(values, dtype=object))
    index, uniques = pd.factorize(series, use_na_sentinel=True)
    lists = []
    for u in [*uniques.tolist(), None]:
        lists.append(
            [
                {"code": c, "text_zh": codes.text(c, "zh"), "text_en": codes.text(c, "en")}
                for c in split_codes(u)
            ]
        )
    index = np.where(index < 0, len(lists) - 1, index)
    rendered = pa.array([canonical_json(lst) for lst in lists], pa.string())
    per_row = [lists[k] for k in index.tolist()]
    return _Json.column(pc.take(rendered, pa.array(index))), per_row


def _hashes(texts: pa.Array, threads: int) -> list[str]:
    """SHA-256 of each string of an Arrow string array, straight from its UTF-8 buffer, in ``threads``
    slices at once (hashlib releases the GIL on large buffers)."""
    texts = texts.cast(pa.large_string())
    n = len(texts)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset : texts.offset + n + 1].tolist()
    data = memoryview(texts.buffers()[2] or b"")

    def run(lo: int, hi: int) -> list[str]:
        return [hashlib.sha256(data[offsets[i] : offsets[i + 1]]).hexdigest() for i in range(lo, hi)]

    if threads <= 1 or n < 1024:
        return run(0, n)
    step = -(-n // threads)
    with ThreadPoolExecutor(threads) as pool:
        parts = pool.map(lambda lo: run(lo, min(n, lo + step)), range(0, n, step))
        return [h for part in parts for h in part]


@dataclass(frozen=True)
class EncodedInputs:
    """Each row's canonical input (Arrow strings) and its SHA-256: enough to key a row before its record."""

    json: pa.Array
    sha256: list[str]

    def take(self, rows: np.ndarray) -> EncodedInputs:
        return EncodedInputs(self.json.take(pa.array(rows)), [self.sha256[i] for i in rows.tolist()])


def encode_inputs(engine: DecisionEngine, frame: pd.DataFrame, *, threads: int = 2) -> EncodedInputs:
    """The canonical input of every row (``records.input_records_of``'s form) and its hash."""
    texts = _join(input_json(frame, engine), len(frame)) if len(frame) else pa.array([], pa.large_string())
    return EncodedInputs(texts, _hashes(texts, threads))


def encode_records(
    engine: DecisionEngine,
    decided: pd.DataFrame,
    *,
    inputs: EncodedInputs | None = None,
    check_rows: int = 3,
    threads: int = 2,
) -> EncodedRecords:
    """The decision record of every row of ``decided`` (``DecisionEngine.decide``'s frame, explained as the
    API explains: ``adverse``) as canonical JSON, with the values the audit store indexes.

    ``check_rows`` rows (the first, the last and spread between) are also built by the per-row path
    (``records.decision_records``) and must match byte for byte; a difference is a defect and raises
    ``RuntimeError`` before anything is stored. ``inputs`` are the rows' :func:`encode_inputs`, when
    already computed.
    """
    n = len(decided)
    if n == 0:
        return EncodedRecords([], [], [], [], [], [])
    names = [str(c) for c in decided.columns]
    cols = {name: decided[name].to_numpy() for name in names}
    inputs = inputs if inputs is not None else encode_inputs(engine, decided, threads=threads)
    input_hashes = inputs.sha256
    first = _texts(cols["firm_id"]) if "firm_id" in cols else _Json([_NULL])
    as_of = _dates(decided["as_of_date"]) if "as_of_date" in cols else _Json([_NULL])
    policy = engine.policy
    reason_json, reason_lists = _reason_lists(engine, cols["reason_codes"])
    codes_version = (
        _texts(cols["reason_codes_version"])
        if "reason_codes_version" in cols
        else _Json.const(engine.reason_codes_config.version)
    )
    record = _obj(
        {
            "schema": _Json.const(RECORD_SCHEMA),
            "decision_logic": _Json.const(DECISION_LOGIC),
            "firm_id": first,
            "as_of_date": as_of,
            "input": _Json.column(inputs.json),
            "input_sha256": _Json.column(pa.array([f'"{h}"' for h in input_hashes], pa.string())),
            "model": _Json.const(
                {**engine.identity.as_dict(), "feature_order_hash": engine.feature_order_hash}
            ),
            "configs": _Json.const(engine.versions),
            "points": _points_json(engine, cols),
            "risk": _risk_json(cols, names, n),
            "products": _arr(
                [
                    _obj(
                        {
                            "id": _Json.const(p.id),
                            "eligible": _bools(cols[f"eligible_{p.id}"]),
                            "failed_rules": _code_lists(cols[f"failed_rules_{p.id}"]),
                        }
                    )
                    for p in policy.products
                ]
            ),
            "limit": _limit_json(cols),
            "decision": _texts(cols["decision"]),
            "trigger": _trigger_json(engine, cols, reason_lists, n),
            "reason_codes": reason_json,
            "reason_codes_version": codes_version,
            "policy": _Json.const({"version": policy.version, "hash": engine.versions["policy"]["hash"]}),
        }
    )
    joined = _join(record, n)
    record_hashes = _hashes(joined, threads)
    texts = joined.to_pylist()
    prob = np.asarray(cols["prob_default"], dtype="float64")
    limit = np.asarray(cols["limit"], dtype="float64")
    encoded = EncodedRecords(
        texts=texts,
        record_sha256=record_hashes,
        input_sha256=input_hashes,
        prob_default=_finite_or_none(prob),
        limit=_finite_or_none(limit),
        decision=[str(d) for d in np.asarray(cols["decision"], dtype=object).tolist()],
    )
    _check(engine, decided, encoded, check_rows)
    return encoded


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    out: list[float | None] = values.tolist()
    if not np.isfinite(values).all():
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            out[i] = None
    return out


def _check(engine: DecisionEngine, decided: pd.DataFrame, encoded: EncodedRecords, rows: int) -> None:
    """The per-row path on a sample of rows must give the same bytes (a defect here must not be stored)."""
    n = len(encoded)
    if rows <= 0:
        return
    sample = sorted({int(i) for i in np.linspace(0, n - 1, num=min(rows, n))})
    part = decided.iloc[sample].reset_index(drop=True)
    inputs = [json.loads(encoded.texts[i])["input"] for i in sample]
    if input_records_of(inputs, engine.fields) != inputs:  # a stored input must decide as it was decided
        raise RuntimeError("a column-wise input is not in its canonical form; nothing was stored")
    exact = decision_records(engine, part, inputs)
    for i, record in zip(sample, exact, strict=True):
        if canonical_json(record) != encoded.texts[i]:
            raise RuntimeError(
                f"the column-wise record of row {i} differs from the per-row record; nothing was stored"
            )
