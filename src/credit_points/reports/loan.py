"""The per-loan report: one decision record (plus its engine) → derived sections → HTML, PDF or JSON.

Every number the report prints from the decision is read from the record itself, never recomputed, so
the report equals the record exactly. The engine adds what a record does not hold: labels and provenance of
the configurations, stage benchmarks (median and P75 from the pinned reference population), the model's
contributions when the record was decided without them, and the what-if suggestions, each re-decided by the
engine. The engine is trusted only after it reproduces the record's points, PD and limit on the record's
input; otherwise the engine-derived sections say so and stay empty.

In the HTML every number sits in an element with ``data-field`` (its path in the record, e.g.
``limit.limit``) or ``data-derived`` (its path in the JSON report's ``report`` sections) and ``data-value``
(the exact value as JSON), so a reader or a test can check each one.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from credit_points.datasets.record import applicants_to_frame
from credit_points.exceptions import DataValidationError
from credit_points.explain.whatif import WhatIfConfig, load_whatif_config, next_tier, weak_spots, what_if
from credit_points.records import RECORD_SCHEMA
from credit_points.reports.messages import LANGS, MessagesConfig, load_messages

if TYPE_CHECKING:
    from credit_points.engine import DecisionEngine

Format = Literal["html", "pdf", "json"]
FORMATS: tuple[str, ...] = ("html", "pdf", "json")
REPORT_SCHEMA = "credit-points-report/1"
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf", "json": "application/json"}
#: waterfall step → the binding constraints that point at it
_STEP_OF_BINDING = {
    "capacity": "capacity",
    "points_multiplier": "points_multiplier",
    "risk_multiplier": "risk_multiplier",
    "headroom": "headroom",
    "cap": "cap",
    "min_limit": "rounding",
}
_ABS_TOL = 1e-9


# ---------------------------------------------------------------------- engine-side assets, cached
@dataclass
class _EngineAssets:
    scorer: Any
    stage_codes: dict[str, int]
    weights: np.ndarray
    benchmarks: dict[str, dict[str, Any]]


_ASSETS: dict[int, tuple[weakref.ref[Any], _EngineAssets]] = {}
_ANALYSES: OrderedDict[tuple[int, str, str], dict[str, Any]] = OrderedDict()
_ANALYSES_MAX = 256


def _assets(engine: DecisionEngine) -> _EngineAssets:
    key = id(engine)
    hit = _ASSETS.get(key)
    if hit is not None and hit[0]() is engine:
        return hit[1]
    from credit_points.points.scorer import PointsScorer

    cfg = engine.points_config
    assets = _EngineAssets(
        scorer=PointsScorer(cfg, engine.reference),
        stage_codes={s: k for k, s in enumerate(cfg.stage_ids)},
        weights=np.asarray(cfg.stage_weight_matrix, dtype="float64"),
        benchmarks={},
    )
    _ASSETS[key] = (weakref.ref(engine), assets)
    return assets


def stage_benchmarks(engine: DecisionEngine, stage: str) -> dict[str, Any]:
    """Median and P75 benchmarks of a stage from the engine's pinned reference population.

    For each indicator: the value at the stage's median and at its P75 (for a lower-is-better indicator
    the better quarter, i.e. the 25th percentile of the value) and the points such a value earns. For each
    category and the core total: the points of a firm at that benchmark on every indicator. ``None`` where
    the stage had too few reference firms (fixed bands apply there).
    """
    assets = _assets(engine)
    if stage in assets.benchmarks:
        return assets.benchmarks[stage]
    cfg = engine.points_config
    ref = engine.reference
    code = assets.stage_codes[stage]
    targets = cfg.scoring.targets
    probs = {"median": float(targets.get("median", 0.5)), "p75": float(targets.get("p75", 0.75))}
    n_ind = len(cfg.indicators)
    values = np.full((n_ind, 2), np.nan)
    known = np.zeros(n_ind, dtype=bool)
    for j, ind in enumerate(cfg.indicators):
        if not ref.uses_quantiles(stage, ind.id):
            continue
        known[j] = True
        for k, prob in enumerate(probs.values()):
            values[j, k] = ref.quantile(stage, ind.id, prob if ind.direction == "higher" else 1.0 - prob)
    scores, _ = assets.scorer.score_values(np.full(2, code, dtype="int64"), values, with_pct=False)
    points = scores * assets.weights[code][:, None]
    points[~known] = np.nan
    out: dict[str, Any] = {"indicators": {}, "categories": {}, "core": {}}
    for j, ind in enumerate(cfg.indicators):
        out["indicators"][ind.id] = {
            "max_points": float(assets.weights[code, j]),
            **{f"{name}_value": _num(values[j, k]) for k, name in enumerate(probs)},
            **{f"{name}_points": _num(points[j, k]) for k, name in enumerate(probs)},
        }
    for cat in cfg.categories:
        members = [j for j, ind in enumerate(cfg.indicators) if ind.category == cat.id]
        entry: dict[str, Any] = {"max_points": float(cat.totals[stage])}
        for k, name in enumerate(probs):
            col = points[members, k]
            entry[f"{name}_points"] = float(col.sum()) if known[members].all() else None
        out["categories"][cat.id] = entry
    for k, name in enumerate(probs):
        out["core"][f"{name}_points"] = float(points[:, k].sum()) if known.all() else None
    out["core"]["max_points"] = float(cfg.scale)
    assets.benchmarks[stage] = out
    return out


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) or math.isinf(f) else f


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=_ABS_TOL)


def _tiers(engine: DecisionEngine, product: str | None) -> list[float]:
    bands = engine.policy.points_multipliers
    if product:
        bands = engine.policy.product_points_multipliers(engine.policy.product(product))
    return [float(b.min_points) for b in bands or () if b.min_points is not None]


def _analysis(record: dict[str, Any], engine: DecisionEngine, whatif_config: WhatIfConfig) -> dict[str, Any]:
    """Engine-derived, language-neutral parts of a report, computed once per record and engine."""
    key = (id(engine), str(record.get("input_sha256")), str(record.get("model", {}).get("artifact_hash")))
    hit = _ANALYSES.get(key)
    if hit is not None:
        _ANALYSES.move_to_end(key)
        return hit
    frame = applicants_to_frame([record["input"]], engine.fields)  # validated when it was decided
    limit = record["limit"]
    grades = engine.pd_config.master_scale.labels

    def decide(batch: pd.DataFrame) -> pd.DataFrame:
        return engine.decide(batch, explain="none")

    result = what_if(frame, decide, whatif_config, tiers=_tiers(engine, limit["product"]), grades=grades)
    base = result.baseline
    reproduced = (
        _same(base["points_total"], record["points"]["total"])
        and _same(base["prob_default"], record["risk"]["prob_default"])
        and _same(base["limit"], limit["limit"])
        and str(base["decision"]) == record["decision"]
    )
    analysis: dict[str, Any] = {
        "reproduced": reproduced,
        "whatif": [],
        "contributions": None,
        "contrib_base": None,
    }
    if reproduced:
        analysis["whatif"] = [_suggestion(row) for row in result.suggestions.to_dict("records")]
        if record["risk"].get("contributions") is None:
            explained = engine.decide(frame, explain="all")
            row = explained.iloc[0]
            analysis["contrib_base"] = float(row["contrib_base"])
            analysis["contributions"] = {
                c.removeprefix("contrib_"): float(row[c])
                for c in explained.columns
                if c.startswith("contrib_") and c != "contrib_base"
            }
    _ANALYSES[key] = analysis
    if len(_ANALYSES) > _ANALYSES_MAX:
        _ANALYSES.popitem(last=False)
    return analysis


def _suggestion(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "goal": row["goal"],
        "target": _num(row["target"]) if row["goal"] != "grade" else row["target"],
        "lever": row["lever"],
        "field": row["field"],
        "step": float(row["step"]),
        "value_from": float(row["value_from"]),
        "value_to": float(row["value_to"]),
        "changes": dict(row["changes"]),
        "outcome": {
            "points_total": float(row["points_total"]),
            "prob_default": float(row["prob_default"]),
            "grade": str(row["grade"]),
            "limit": float(row["limit"]),
            "decision": str(row["decision"]),
            "product": str(row["product"]) or None,
        },
    }


# ---------------------------------------------------------------------- sections
def _provenance_flag(text: str | None) -> bool:
    return bool(text) and "reconstruction" in str(text).lower()


def _config_rows(record: dict[str, Any], engine: DecisionEngine) -> list[dict[str, Any]]:
    sources = {
        "points": engine.points_config,
        "pd_model": engine.pd_config,
        "policy": engine.policy,
        "reason_codes": engine.reason_codes_config,
        "fields": engine.fields,
    }
    rows = []
    for name, entry in record.get("configs", {}).items():
        cfg = sources.get(name)
        matches = cfg is not None and cfg.content_hash == entry.get("hash")
        rows.append(
            {
                "name": name,
                "version": entry.get("version"),
                "hash": entry.get("hash"),
                "reconstruction": _provenance_flag(cfg.provenance) if (cfg is not None and matches) else None,
            }
        )
    return rows


def build_report(
    record: dict[str, Any],
    engine: DecisionEngine,
    lang: str = "zh",
    *,
    messages: MessagesConfig | None = None,
    whatif_config: WhatIfConfig | None = None,
) -> dict[str, Any]:
    """The report's derived sections for one decision record, labelled in ``lang``.

    Args:
        record: a decision record (``credit-points-decision/1``), optionally with an ``audit`` key
            (``decision_id``, ``created_at``) as the audit store returns it.
        engine: the engine the decision was made with (what-ifs and benchmarks need it).
        lang: ``zh`` or ``en``.

    Returns:
        ``{"header", "outcome", "points", "risk", "reasons", "help", "products", "model"}``; every number
        taken from the record is the record's own value.

    Raises:
        DataValidationError: the record is not a decision record, or the language is unknown.
    """
    if not isinstance(record, dict) or record.get("schema") != RECORD_SCHEMA:
        got = record.get("schema") if isinstance(record, dict) else type(record).__name__
        raise DataValidationError(
            f"not a decision record; expected schema {RECORD_SCHEMA!r}", field="schema", value=got
        )
    if lang not in LANGS:
        raise DataValidationError(
            f"unknown language; expected one of {list(LANGS)}", field="lang", value=lang
        )
    msg = messages or load_messages()
    analysis = _analysis(record, engine, whatif_config or load_whatif_config())
    points = _points_section(record, engine, lang)
    return {
        "header": _header_section(record, engine, analysis),
        "outcome": _outcome_section(record, engine, lang, msg),
        "points": points,
        "risk": _risk_section(record, engine, analysis, lang, msg),
        "reasons": _reasons_section(record, lang, msg),
        "help": _help_section(record, engine, analysis, points["indicators"], lang, msg),
        "products": _products_section(record, engine, lang, msg),
        "model": _model_section(engine),
    }


def _header_section(
    record: dict[str, Any], engine: DecisionEngine, analysis: dict[str, Any]
) -> dict[str, Any]:
    """Who, when, which model and configurations, and the overrides linked to the decision."""
    audit = record.get("audit") or {}
    return {
        "firm_id": record.get("firm_id"),
        "firm_name": record["input"].get("name"),
        "zone": record["input"].get("zone"),
        "as_of_date": record.get("as_of_date"),
        "decision_id": audit.get("decision_id") or record.get("decision_id"),
        "decided_at": audit.get("created_at") or record.get("decided_at"),
        "model": dict(record.get("model", {})),
        "configs": _config_rows(record, engine),
        "reference_hash": record.get("configs", {}).get("reference", {}).get("hash"),
        "engine_reproduces_record": analysis["reproduced"],
        "overrides": _override_steps(audit),
        "in_force": audit.get("in_force") if audit.get("history") else None,
    }


def _override_steps(audit: dict[str, Any]) -> list[dict[str, Any]]:
    """Each override as an officer reads it: who (the key's owner, and the officer's name), when, what
    changed from what to what, why (code, its text, the officer's words), its status and who reviewed it.
    Overrides recorded before the history existed show their new values, in force."""
    history = audit.get("history")
    if history is None:
        history = [
            {"id": o.get("decision_id"), "kind": "override", "created_at": o.get("created_at"),
             "status": "in_force", "actor": {"owner": o.get("officer")}, "reason": o.get("reason"),
             "new_values": o.get("new_values") or {}}
            for o in audit.get("overrides") or []
        ]  # fmt: skip
    out = []
    for step in history:
        if step.get("kind") != "override":
            continue
        new_values = step.get("new_values") or {}
        before, after = step.get("before") or {}, step.get("after") or new_values
        out.append(
            {"decision_id": step.get("id"), "created_at": step.get("created_at"),
             "officer": (step.get("actor") or {}).get("owner"), "officer_name": step.get("officer_name"),
             "changes": [{"field": k, "from": before.get(k), "to": after.get(k)}
                         for k in ("decision", "limit") if k in new_values],
             "reason_code": step.get("reason_code"), "reason_code_text": step.get("reason_code_text") or {},
             "reason": step.get("reason"), "status": step.get("status", "in_force"),
             "reviewed_by": (step.get("reviewed_by") or {}).get("owner"), "reviewed_at": step.get("reviewed_at")}
        )  # fmt: skip
    return out


def _outcome_section(
    record: dict[str, Any], engine: DecisionEngine, lang: str, msg: MessagesConfig
) -> dict[str, Any]:
    """The decision, the product and the limit waterfall with its binding step marked."""
    limit = record["limit"]
    binding = limit.get("binding_constraint")
    binding_step = _STEP_OF_BINDING.get(str(binding))
    product_id = limit.get("product")
    return {
        "decision": record["decision"],
        "decision_label": msg.text(f"decision.{record['decision']}", lang),
        "product": product_id,
        "product_name": _product_name(engine, product_id, lang),
        "binding_constraint": binding,
        "binding_label": msg.text(f"binding.{binding}", lang)
        if msg.has(f"binding.{binding}")
        else str(binding),
        "binding_step": binding_step,
        "trigger": _trigger(record, lang, msg),
        # a decline on a veto, the PD cut-off or eligibility calculates no limit: the report says why
        # instead of printing a waterfall of zeros
        "limit_calculated": any((step["value"] or 0) > 0 for step in limit["waterfall"]),
        "waterfall": [
            {
                "index": k,
                "step": step["step"],
                "label": msg.text(f"step.{step['step']}", lang),
                "value": step["value"],
                "binding": step["step"] == binding_step,
            }
            for k, step in enumerate(limit["waterfall"])
        ],
    }


def comparison_decimals(value: float, threshold: float) -> int:
    """Decimals of a percentage at which ``value`` and ``threshold`` print differently (2 to 6).

    Examples:
        >>> comparison_decimals(0.030002, 0.03), comparison_decimals(0.045, 0.03)
        (4, 2)
    """
    for decimals in range(2, 7):
        if f"{value * 100:.{decimals}f}" != f"{threshold * 100:.{decimals}f}":
            return decimals
    return 6


def _trigger(record: dict[str, Any], lang: str, msg: MessagesConfig) -> dict[str, Any] | None:
    """What decided a refer or decline, as the record holds it, with its text and the PD comparison."""
    trigger = record.get("trigger")
    if not trigger:
        return None
    texts = {
        r["code"]: (r["text_zh"] if lang == "zh" else r["text_en"]) for r in record.get("reason_codes", [])
    }
    value, threshold = trigger.get("value"), trigger.get("threshold")
    compared = value is not None and threshold is not None
    return {
        "kind": trigger.get("kind"),
        "code": trigger.get("code"),
        "text": texts.get(trigger.get("code") or "", msg.text(f"binding.{trigger.get('kind')}", lang)
                          if msg.has(f"binding.{trigger.get('kind')}") else str(trigger.get("kind"))),
        "decimals": comparison_decimals(value, threshold) if compared else None,
    }  # fmt: skip


def _points_section(record: dict[str, Any], engine: DecisionEngine, lang: str) -> dict[str, Any]:
    """Labels and stage benchmarks beside the record's points, bonus, deductions, vetoes and next tier."""
    zh = lang == "zh"
    cfg = engine.points_config
    points = record["points"]
    stage = points["stage"]
    bench = stage_benchmarks(engine, stage)
    stage_obj = next((s for s in cfg.stages if s.id == stage), None)
    tiers = _tiers(engine, record["limit"].get("product"))
    return {
        "stage": stage,
        "stage_label": (stage_obj.label_zh if zh else stage_obj.label_en) if stage_obj else stage,
        "profile_label": cfg.label_zh if zh else cfg.label_en,
        "core_benchmark": bench["core"],
        "categories": [
            {
                "id": cat.id,
                "label": cat.label_zh if zh else cat.label_en,
                "max_points": bench["categories"][cat.id]["max_points"],
                "median_points": bench["categories"][cat.id]["median_points"],
                "p75_points": bench["categories"][cat.id]["p75_points"],
            }
            for cat in cfg.categories
        ],
        "indicators": _indicator_rows(points["indicators"], engine, bench, lang),
        "bonus": [
            {"id": i, "label": cfg.label(i, lang), "points": v} for i, v in points["bonus_items"].items() if v
        ],
        "deductions": [
            {"id": i, "label": cfg.label(i, lang), "points": v}
            for i, v in points["deduction_items"].items()
            if v
        ],
        "vetoes": [{"id": v, "label": cfg.label(v, lang)} for v in points["veto_reasons"]],
        "next_tier": next_tier(float(points["total"]), tiers) if points["total"] is not None else None,
    }


def _indicator_rows(
    indicators: list[dict[str, Any]], engine: DecisionEngine, bench: dict[str, Any], lang: str
) -> list[dict[str, Any]]:
    """Each indicator of the record with its label, unit, direction and stage benchmarks."""
    cfg = engine.points_config
    rows = []
    for k, ind in enumerate(indicators):
        spec = cfg.indicator_by_id.get(ind["id"])
        b = bench["indicators"].get(ind["id"], {})
        rows.append(
            {
                "index": k,
                "id": ind["id"],
                "label": cfg.label(ind["id"], lang),
                "category": ind["category"],
                "unit": spec.unit if spec else "count",
                "direction": spec.direction if spec else "higher",
                "actionable": bool(spec.actionable) if spec else False,
                "max_points": b.get("max_points"),
                "median_value": b.get("median_value"),
                "p75_value": b.get("p75_value"),
            }
        )
    return rows


def _reasons_section(record: dict[str, Any], lang: str, msg: MessagesConfig) -> dict[str, Any]:
    """The record's reason codes, in the report's language."""
    zh = lang == "zh"
    return {
        "title": msg.text(f"reasons.title.{record['decision']}", lang),
        "items": [
            {"code": r["code"], "text": r["text_zh"] if zh else r["text_en"]}
            for r in record.get("reason_codes", [])
        ],
    }


def _help_section(
    record: dict[str, Any],
    engine: DecisionEngine,
    analysis: dict[str, Any],
    indicators: list[dict[str, Any]],
    lang: str,
    msg: MessagesConfig,
) -> dict[str, Any]:
    """Weak spots (短板) against the stage benchmarks, and the what-if changes that would raise the limit."""
    points = record["points"]
    spots_frame = pd.DataFrame(
        {
            "id": [i["id"] for i in indicators],
            "index": [i["index"] for i in indicators],
            "points": [points["indicators"][i["index"]]["points"] for i in indicators],
            "pct": [points["indicators"][i["index"]]["pct"] for i in indicators],
            "max_points": [np.nan if i["max_points"] is None else i["max_points"] for i in indicators],
            "actionable": [i["actionable"] for i in indicators],
        }
    )
    spots = weak_spots(spots_frame, k=3)
    return {
        "weak_spots": [
            {
                "id": row["id"],
                "index": int(row["index"]),
                "label": engine.points_config.label(row["id"], lang),
                "shortfall": float(row["shortfall"]),
                **_standing(engine, row["id"], points["indicators"][int(row["index"])]),
            }
            for row in spots.to_dict("records")
        ],
        "whatif_available": analysis["reproduced"],
        "whatif": [
            {
                **s,
                "lever_label": engine.fields.label(s["field"], lang),
                "unit": "money"
                if getattr(engine.fields.by_name.get(s["field"]), "unit", None) == "yuan"
                else "count",
                "goal_label": msg.text(f"goal.{s['goal']}", lang),
                "decision_label": msg.text(f"decision.{s['outcome']['decision']}", lang),
            }
            for s in analysis["whatif"]
        ],
    }


def _standing(engine: DecisionEngine, indicator: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Where a weak spot stands, as it scores: a percentile turned the way that earns points (a lower-is-
    better indicator at the 88th percentile of its value stands at the 12th), or for an indicator scored by
    tiers, flags or bands, its points (a percentile does not drive them)."""
    spec = engine.points_config.indicator_by_id.get(indicator)
    pct = entry.get("pct")
    if spec is not None and spec.kind == "percentile" and pct is not None:
        return {"standing": (1.0 - float(pct)) if spec.direction == "lower" else float(pct), "points": None}
    return {"standing": None, "points": entry.get("points")}


def _products_section(
    record: dict[str, Any], engine: DecisionEngine, lang: str, msg: MessagesConfig
) -> list[dict[str, Any]]:
    """Each product: eligible or not, chosen or not, and the rules it failed, in the report's language."""
    zh = lang == "zh"
    product_id = record["limit"].get("product")
    products = []
    for p, entry in zip(engine.policy.products, record["products"], strict=False):
        rules = {r.id: (r.text_zh if zh else r.text_en) for r in p.eligibility}
        products.append(
            {
                "id": entry["id"],
                "name": _product_name(engine, entry["id"], lang),
                "eligible": entry["eligible"],
                "chosen": entry["id"] == product_id,
                "failed_rules": [
                    {"id": r, "text": rules.get(r) or _rule_text(msg, r, lang, engine.reason_codes_config)}
                    for r in entry["failed_rules"]
                ],
            }
        )
    return products


def _model_section(engine: DecisionEngine) -> dict[str, Any]:
    """The model card: windows, rows, out-of-time validation figures and the grade table."""
    card = engine.model_card or {}
    validation = card.get("validation", {})
    oot = card.get("out_of_time", {})  # the rows the figures (and the gate's) are measured on
    return {
        "windows": card.get("windows", {}),
        "rows": card.get("rows", {}),
        "oot_rows": oot.get("rows", validation.get("n")),
        "oot_firms": oot.get("firms", "all"),
        "auc": validation.get("auc"),
        "auc_ci_low": validation.get("auc_ci_low"),
        "auc_ci_high": validation.get("auc_ci_high"),
        "ks": validation.get("ks"),
        "gini": validation.get("gini"),
        "default_rate": validation.get("default_rate"),
        "chosen": card.get("selection", {}).get("chosen"),
        "grade_table": [
            {
                "grade": g["grade"],
                "n": g["n"],
                "defaults": g["defaults"],
                "mean_pd": g.get("mean_pd"),
                "observed_rate": g.get("observed_rate"),
                "traffic_light": g.get("traffic_light"),
            }
            for g in card.get("grade_table", [])
            if g.get("n")
        ],
        "limitations": card.get("limitations"),
    }


def _product_name(engine: DecisionEngine, product_id: str | None, lang: str) -> str | None:
    if not product_id:
        return None
    for p in engine.policy.products:
        if p.id == product_id:
            return p.name_zh if lang == "zh" else p.name_en
    return product_id


def _rule_text(msg: MessagesConfig, rule: str, lang: str, codes: Any) -> str:
    if msg.has(f"rule.{rule}"):
        return msg.text(f"rule.{rule}", lang)
    for entry in codes.rules:
        if entry.id == rule:
            return str(entry.text_zh if lang == "zh" else entry.text_en)
    return rule


def _risk_section(
    record: dict[str, Any], engine: DecisionEngine, analysis: dict[str, Any], lang: str, msg: MessagesConfig
) -> dict[str, Any]:
    """Grade on the master scale and the PD's contributions by reason family (from the record or the engine)."""
    zh = lang == "zh"
    risk = record["risk"]
    scale = engine.pd_config.master_scale
    from_record = risk.get("contributions") is not None
    contributions = risk["contributions"] if from_record else analysis["contributions"]
    base = risk.get("contrib_base") if from_record else analysis["contrib_base"]
    labels = {f.name: (f.label_zh if zh else f.label_en) for f in engine.pd_config.features}
    family_of = engine.reason_codes_config.feature_family
    fam_meta = {f.id: f for f in engine.reason_codes_config.families}
    families: list[dict[str, Any]] = []
    if contributions is not None:
        grouped: dict[str, list[tuple[str, float]]] = {}
        for feat, value in contributions.items():
            grouped.setdefault(family_of.get(feat, "other"), []).append((feat, float(value or 0.0)))
        for fam, items in grouped.items():
            meta = fam_meta.get(fam)
            families.append(
                {
                    "id": fam,
                    "code": meta.code if meta else None,
                    "label": msg.text(f"family.{fam}", lang) if msg.has(f"family.{fam}") else fam,
                    "contribution": float(sum(v for _, v in items)),
                    "features": [
                        {"name": f, "label": labels.get(f, f), "contribution": v}
                        for f, v in sorted(items, key=lambda t: -abs(t[1]))
                    ],
                }
            )
        families.sort(key=lambda f: -abs(f["contribution"]))
    grade = risk["grade"]
    bands = []
    lower = 0.0

    def label(grade_id: str, own: str) -> str:  # the neutral label set of the messages, else the bundle's
        return msg.text(f"grade.{grade_id}", lang) if msg.has(f"grade.{grade_id}") else own

    for g in scale.grades:
        bands.append({"grade": g.grade, "pd_min": lower, "pd_max": g.pd_max,
                      "label": label(g.grade, g.label_zh if zh else g.label_en), "current": g.grade == grade})  # fmt: skip
        lower = g.pd_max
    bands.append({"grade": scale.default_grade, "pd_min": 1.0, "pd_max": 1.0,
                  "label": label(scale.default_grade, "违约" if zh else "default"),
                  "current": scale.default_grade == grade})  # fmt: skip
    return {
        "grade": grade,
        "grade_label": next((b["label"] for b in bands if b["grade"] == grade), grade),
        "master_scale": bands,
        "contributions_source": "record"
        if from_record
        else ("engine" if contributions is not None else None),
        "contrib_base": base,
        "families": families,
    }


# ---------------------------------------------------------------------- rendering
def report_json(record: dict[str, Any], sections: dict[str, Any], lang: str) -> bytes:
    """The JSON report: the record as given plus the derived sections."""
    body = {"schema": REPORT_SCHEMA, "lang": lang, "record": record, "report": sections}
    return json.dumps(body, ensure_ascii=False, allow_nan=False, indent=1).encode("utf-8")


def render_report(
    record: dict[str, Any],
    engine: DecisionEngine,
    fmt: str = "html",
    lang: str = "zh",
    *,
    messages: MessagesConfig | None = None,
    whatif_config: WhatIfConfig | None = None,
) -> bytes:
    """One decision's report as bytes: ``html`` (self-contained), ``pdf`` (CJK font embedded) or ``json``.

    This is the function behind ``GET /v1/decisions/{id}/report``. The what-if batch and the stage
    benchmarks are computed once per record and engine and reused across formats and languages.

    Raises:
        DataValidationError: unknown format or language, or not a decision record.
    """
    if fmt not in FORMATS:
        raise DataValidationError(
            f"unknown report format; expected one of {list(FORMATS)}", field="format", value=fmt
        )
    sections = build_report(record, engine, lang, messages=messages, whatif_config=whatif_config)
    if fmt == "json":
        return report_json(record, sections, lang)
    from credit_points.reports.html import render_html

    html = render_html(record, sections, lang, messages=messages or load_messages())
    if fmt == "html":
        return html.encode("utf-8")
    from credit_points.reports.pdf import html_to_pdf

    return html_to_pdf(html)


def today_iso() -> str:
    """Today's date (ISO), printed as the report's print date."""
    return dt.date.today().isoformat()
