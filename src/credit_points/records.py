"""Decision records: the one JSON shape that the API returns, the audit store keeps and the reports render.

A record is built from one row of :meth:`DecisionEngine.decide` and the row's canonical input. Floats are
kept as Python floats (``json`` writes their shortest round-trip repr), so a stored PD reads back bit for bit.
This module sits above the engine: it calls the engine, the engine never imports it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from credit_points.config import canonical_json, sha256_text
from credit_points.datasets.record import applicants_to_frame
from credit_points.exceptions import DataValidationError

if TYPE_CHECKING:
    from credit_points.datasets.fields import FieldsConfig
    from credit_points.engine import DecisionEngine, Explain
    from credit_points.points.config import PointsConfig

RECORD_SCHEMA = "credit-points-decision/1"
#: Version of the decision logic: what the engine derives from the same model, configs and input. Every
#: record and bundle carries it; a record without it was decided by version "1".
DECISION_LOGIC = "2"
#: What each version changed, as record paths: differences there between a record of an older version and
#: its replay are explained by the upgrade; every other field must still match exactly.
LOGIC_CHANGES: dict[str, tuple[str, ...]] = {
    "2": ("decision_logic", "limit.binding_constraint", "reason_codes", "trigger"),
}


def changed_since(version: str | None) -> tuple[str, ...]:
    """Record paths the decision logic changed after ``version`` (``None``: a record from before versions).

    Examples:
        >>> changed_since(None)
        ('decision_logic', 'limit.binding_constraint', 'reason_codes', 'trigger')
        >>> changed_since(DECISION_LOGIC)
        ()
    """
    since = int(version or "1")
    return tuple(path for v, paths in LOGIC_CHANGES.items() if int(v) > since for path in paths)


WATERFALL_STEPS = (
    ("capacity", "limit_capacity"),
    ("points_multiplier", "limit_after_points"),
    ("risk_multiplier", "limit_after_risk"),
    ("headroom", "limit_after_headroom"),
    ("cap", "limit_after_cap"),
    ("rounding", "limit"),
)


def _plain(value: Any) -> Any:
    """A JSON-safe Python value: NaN/NaT → None, numpy scalars → Python, timestamps → ISO date."""
    kind = type(value)
    if kind is float:  # the common cases first: a record has a few hundred of them
        return value if math.isfinite(value) else None
    if kind is str or value is None:
        return value
    if isinstance(value, float | np.floating):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date().isoformat()
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value


def input_records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Each row's canonical input (catalogue fields only, JSON-safe), in catalogue order."""
    present = [c for c in columns if c in frame.columns]
    # one conversion to Python cells (``to_dict`` builds a Series per row: far slower on small frames)
    cells = frame[present].to_numpy(dtype=object)
    return [{k: _plain(v) for k, v in zip(present, row, strict=True)} for row in cells]


def input_records_of(applicants: Sequence[Mapping[str, Any]], fields: FieldsConfig) -> list[dict[str, Any]]:
    """``input_records`` of the frame ``datasets.record.applicants_to_frame`` builds, straight from the dicts.

    The same values the frame's round trip gives (numbers as float, a missing bool as ``False``, dates as
    ``YYYY-MM-DD``, missing text as ``None``), without converting the frame back cell by cell; every
    catalogue input field is present, as it is in that frame.
    """
    converters = [(spec.name, _CONVERT[spec.dtype]) for spec in fields.fields if spec.group != "outcome"]
    return [{name: convert(a.get(name)) for name, convert in converters} for a in applicants]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) or math.isinf(f) else f


def _date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return dt.date.fromisoformat(str(value)).isoformat()


_CONVERT: dict[str, Any] = {
    "float": _number,
    "int": _number,
    "bool": bool,
    "date": _date,
    "string": lambda v: None if v is None else str(v),
    "category": lambda v: None if v is None else str(v),
}


def input_sha256(record: dict[str, Any]) -> str:
    """SHA-256 of one canonical input."""
    return sha256_text(canonical_json(record))


def _rank(value: Any) -> int | None:
    """A rank against the reference population; None where the zone is unknown to it."""
    plain = _plain(value)
    return None if plain is None else int(plain)


def split_codes(value: Any) -> list[str]:
    """The codes of a ``;``-joined column cell (reason codes, failed rules, veto reasons); none when empty."""
    return [v for v in str(value or "").split(";") if v]


def points_section(points_cfg: PointsConfig, points_hash: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The points part of a record from one row of points columns (also ``POST /v1/points``'s answer)."""
    return {
        "config_version": points_cfg.version,
        "config_hash": points_hash,
        "profile": points_cfg.profile,
        "stage": row["stage"],
        "total": _plain(row["points_total"]),
        "core": _plain(row["points_core"]),
        "bonus": _plain(row["points_bonus"]),
        "deductions": _plain(row["points_deductions"]),
        "veto": bool(row["veto"]),
        "veto_reasons": split_codes(row["veto_reasons"]),
        "categories": {c: _plain(row[f"points_cat_{c}"]) for c in points_cfg.category_ids},
        "indicators": [
            {
                "id": ind.id,
                "category": ind.category,
                "value": _plain(row[f"ind_{ind.id}_value"]),
                "pct": _plain(row[f"ind_{ind.id}_pct"]),
                "points": _plain(row[f"ind_{ind.id}_points"]),
            }
            for ind in points_cfg.indicators
        ],
        "bonus_items": {
            i.id: _plain(row[f"bonus_{i.id}"]) for i in points_cfg.bonus.items if f"bonus_{i.id}" in row
        },
        "deduction_items": {
            i.id: _plain(row[f"deduction_{i.id}"])
            for i in points_cfg.deductions.items
            if f"deduction_{i.id}" in row
        },
        "rank_zone": _rank(row["rank_zone"]),
        "rank_stage": _rank(row["rank_stage"]),
    }


def decide_records(
    engine: DecisionEngine, applicants: Sequence[Mapping[str, Any]], *, explain: Explain = "adverse"
) -> list[dict[str, Any]]:
    """Decision records straight from applicant dicts already validated at the door (the API's path).

    Raises :class:`DataValidationError` (field and value) for an applicant whose zone the model's
    reference population does not know. Builds the typed frame once (``datasets.record.applicants_to_frame``), decides it and returns one
    record per applicant (:func:`decision_records`), with the canonical input each record keeps. The
    records are built from the engine's output columns (``DecisionEngine.decide_columns``): no output
    frame is built only to be taken apart again.
    """
    frame = applicants_frame(engine, applicants)
    columns = engine.decide_columns(frame, explain=explain)
    return decision_records(engine, columns, input_records_of(applicants, engine.fields))


def applicants_frame(engine: DecisionEngine, applicants: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The typed frame of applicant dicts validated at the door; :class:`DataValidationError` (field and
    value) for the first applicant whose zone the model's reference population does not know."""
    frame, unknown = decidable_frame(engine, applicants)
    if unknown.any():
        raise unknown_zone_error(engine, applicants[int(np.flatnonzero(unknown)[0])])
    return frame


def decidable_frame(
    engine: DecisionEngine, applicants: Sequence[Mapping[str, Any]]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The typed frame of applicant dicts and, per row, whether the model cannot decide it (a zone its
    reference population does not know): for batch paths that refuse those rows and decide the rest."""
    frame = applicants_to_frame(applicants, engine.fields)
    return frame, engine.unknown_zones(frame)


def unknown_zone_error(engine: DecisionEngine, applicant: Mapping[str, Any]) -> DataValidationError:
    """The refusal of an applicant whose zone the model does not know, naming the field and the value."""
    zone_field = engine.points_config.zone_field
    return DataValidationError(
        engine.unknown_zone_reason(), field=zone_field, value=applicant.get(zone_field)
    )


def trigger_section(
    engine: DecisionEngine, row: Mapping[str, Any], reasons: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """What decided a refer or a decline (``None`` on an approval): its kind, its code, and for a PD
    trigger the PD and the threshold it crossed, so a reader sees the comparison that decided.

    Kinds: ``pd_refer_band`` (the PD above the offered product's refer line), ``refer_rule``, ``pd_cutoff``
    (the PD above the cut-off of the product nearest to an offer: the highest cut-off it failed is shown),
    ``veto``, ``eligibility``, or a
    waterfall step that zeroed the limit (``capacity``, ``min_limit`` ...).
    """
    decision = row["decision"]
    if decision not in ("refer", "decline"):
        return None
    policy = engine.policy
    codes = engine.reason_codes_config
    first = reasons[0]["code"] if reasons else None
    prob_default = _plain(row["prob_default"])
    if decision == "refer":
        product = next((p for p in policy.products if p.id == row["product"]), None)
        line = policy.product_refer_pd_above(product) if product is not None else None
        if line is not None and prob_default is not None and prob_default > line:
            return {"kind": "pd_refer_band", "code": codes.trigger_code("pd_refer_band"),
                    "value": prob_default, "threshold": float(line)}  # fmt: skip
        return {"kind": "refer_rule", "code": first, "value": None, "threshold": None}
    binding = str(row["binding_constraint"])
    cutoff_code = codes.trigger_code("pd_cutoff")
    if binding == "pd_cutoff" or (first is not None and first == cutoff_code):
        # the highest cut-off the PD failed: the PD is above every cut-off it is compared with
        failed = [p for p in policy.products if "pd_cutoff" in split_codes(row[f"failed_rules_{p.id}"])]
        cutoff = max(policy.product_pd_cutoff(p) for p in failed or policy.products)
        return {"kind": "pd_cutoff", "code": cutoff_code, "value": prob_default, "threshold": float(cutoff)}
    return {"kind": binding, "code": first, "value": None, "threshold": None}


def decision_records(
    engine: DecisionEngine, decided: pd.DataFrame | Mapping[str, Any], inputs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Nested decision records, one per row of ``decided`` (aligned with ``inputs``).

    ``decided`` is the frame ``DecisionEngine.decide`` returns, or the columns it adds to the input as a
    mapping of name -> array (what ``decide_records`` hands over without building the frame); the input
    itself comes from ``inputs``.
    """
    points_cfg = engine.points_config
    policy = engine.policy
    codes = engine.reason_codes_config
    versions = engine.versions
    model = {**engine.identity.as_dict(), "feature_order_hash": engine.feature_order_hash}
    rows: Iterator[dict[str, Any]]
    if isinstance(decided, pd.DataFrame):
        # one conversion of the whole frame (Python scalars per cell), then a plain dict per row
        names = [str(c) for c in decided.columns.tolist()]
        rows = (dict(zip(names, cells, strict=True)) for cells in decided.to_numpy(dtype=object))
    else:
        names = list(decided)
        # Python scalars, as the frame's object conversion gives (a numpy str or float is not a JSON type)
        arrays = [a.tolist() if hasattr(a, "tolist") else list(a) for a in decided.values()]
        rows = (dict(zip(names, [a[i] for a in arrays], strict=True)) for i in range(len(inputs)))
    features = [c.removeprefix("contrib_") for c in names if c.startswith("contrib_") and c != "contrib_base"]
    points_hash = versions["points"]["hash"]
    policy_ref = {"version": policy.version, "hash": versions["policy"]["hash"]}
    texts = {c: (codes.text(c, "zh"), codes.text(c, "en")) for c in codes.by_code}
    out = []
    for row, inp in zip(rows, inputs, strict=True):
        contrib = None
        if features and row.get("contrib_base") is not None and not pd.isna(row.get("contrib_base")):
            contrib = {f: _plain(row[f"contrib_{f}"]) for f in features}
        reason_list = [
            {"code": c, "text_zh": texts[c][0], "text_en": texts[c][1]}
            for c in split_codes(row["reason_codes"])
        ]
        record = {
            "schema": RECORD_SCHEMA,
            "decision_logic": DECISION_LOGIC,
            "firm_id": inp.get("firm_id"),
            "as_of_date": inp.get("as_of_date"),
            "input": inp,
            "input_sha256": input_sha256(inp),
            "model": model,
            "configs": versions,
            "points": points_section(points_cfg, points_hash, row),
            "risk": {
                "raw_score": _plain(row["raw_score"]),
                "prob_default": _plain(row["prob_default"]),
                "grade": row["grade"],
                "contributions": contrib,
                "contrib_base": _plain(row.get("contrib_base")) if contrib is not None else None,
            },
            "products": [
                {
                    "id": p.id,
                    "eligible": bool(row[f"eligible_{p.id}"]),
                    "failed_rules": split_codes(row[f"failed_rules_{p.id}"]),
                }
                for p in policy.products
            ],
            "limit": {
                "product": row["product"] or None,
                "capacity": _plain(row["capacity"]),
                "points_multiplier": _plain(row["points_multiplier"]),
                "risk_multiplier": _plain(row["risk_multiplier"]),
                "waterfall": [{"step": step, "value": _plain(row[col])} for step, col in WATERFALL_STEPS],
                "binding_constraint": row["binding_constraint"],
                "limit": _plain(row["limit"]),
                "rate": _plain(row["rate"]),
                "ead": _plain(row["ead"]),
                "lgd": _plain(row["lgd"]),
                "expected_loss": _plain(row["expected_loss"]),
                "expected_loss_net": _plain(row["expected_loss_net"]),
            },
            "decision": row["decision"],
            "trigger": trigger_section(engine, row, reason_list),
            "reason_codes": reason_list,
            "reason_codes_version": row.get("reason_codes_version", codes.version),
            "policy": dict(policy_ref),
        }
        out.append(record)
    return out
