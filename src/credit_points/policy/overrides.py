"""Officer overrides: what an override may change, why, and when a second officer must approve it.

Pure (no I/O beyond loading the config). An override changes the *decision in force* — the original
decision with every override in force applied in the order they came into force — and is checked against
it and against the product of the model version the decision pins (its cap and rounding unit), with the
same rules a decision obeys: known fields only (``decision``, ``limit``), ``0 ≤ limit ≤ cap`` in whole
rounding units, a decision from the enum, a decline lends nothing, an approval lends something. Its reason
code comes from ``configs/policy/overrides.yaml`` and must point the way the change goes. Above the
configured size (``four_eyes``) the override is *pending*: it changes nothing until a second key with the
``decision:approve`` scope, owned by someone else, approves it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from credit_points.config import CONFIG_DIR, StrictModel, VersionedConfig, load_config
from credit_points.exceptions import DataValidationError

#: what an override may change
OVERRIDE_FIELDS: tuple[str, ...] = ("decision", "limit")
DECISIONS: tuple[str, ...] = ("approve", "refer", "decline")
#: how far each decision is from lending (a move to a lower rank is "up": towards approval)
_RANK = {"approve": 0, "refer": 1, "decline": 2}


class OverrideReason(StrictModel):
    """One override reason code and the direction it may justify."""

    code: str = Field(pattern=r"^O\d{2}$")
    direction: Literal["up", "down", "any"]
    text_zh: str = Field(min_length=1)
    text_en: str = Field(min_length=1)

    def text(self, lang: str) -> str:
        return self.text_zh if lang == "zh" else self.text_en


class FourEyes(StrictModel):
    """When an override needs a second officer's approval (any one condition suffices)."""

    limit_increase_above: float = Field(ge=0)
    limit_above: float = Field(ge=0)
    decline_to_approve: bool = True


class OverridePolicy(VersionedConfig):
    """``configs/policy/overrides.yaml``: the four-eyes thresholds and the override reason codes."""

    kind: Literal["override_policy"] = "override_policy"
    four_eyes: FourEyes
    reason_codes: tuple[OverrideReason, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> OverridePolicy:
        codes = [r.code for r in self.reason_codes]
        if len(set(codes)) != len(codes):
            raise ValueError("reason_codes: each code once")
        return self

    def reason(self, code: str) -> OverrideReason | None:
        return next((r for r in self.reason_codes if r.code == code), None)


def load_override_policy(path: str | Path | None = None) -> OverridePolicy:
    """The override policy (default ``configs/policy/overrides.yaml``)."""
    return load_config(path or CONFIG_DIR / "policy" / "overrides.yaml", OverridePolicy)


@dataclass(frozen=True)
class ProductLimits:
    """What an override's limit must respect: the product's cap and rounding unit (yuan)."""

    product: str | None
    cap: float
    rounding_unit: float


@dataclass(frozen=True)
class Checked:
    """A valid override: the values it sets (normalised: a decline carries limit 0), the decision in force
    before and after, and why it needs a second officer (empty: in force at once)."""

    new_values: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]
    four_eyes: list[str] = field(default_factory=list)

    @property
    def direction(self) -> str:
        return _direction(self.before, self.after)


def _refuse(message: str, field: str) -> DataValidationError:
    return DataValidationError(message, field=field)


def _direction(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    rank_move = _RANK[str(before["decision"])] - _RANK[str(after["decision"])]
    limit_move = float(after["limit"]) - float(before["limit"])
    if rank_move > 0 or (rank_move == 0 and limit_move > 0):
        return "up"
    if rank_move < 0 or limit_move < 0:
        return "down"
    return "none"


def check_override(
    new_values: Mapping[str, Any],
    reason_code: str,
    in_force: Mapping[str, Any],
    limits: ProductLimits,
    policy: OverridePolicy,
) -> Checked:
    """Check an override against the decision in force (``decision``, ``limit``) and the product.

    Raises:
        DataValidationError: naming the field (``new_values.limit``, ``reason_code`` ...) and the rule.
    """
    for key in new_values:
        if key not in OVERRIDE_FIELDS:
            raise _refuse(
                f"unknown field; an override may change {', '.join(OVERRIDE_FIELDS)}", f"new_values.{key}"
            )
    values = dict(new_values)
    if "decision" in values and values["decision"] not in DECISIONS:
        raise _refuse(f"must be one of {', '.join(DECISIONS)}", "new_values.decision")
    if "limit" in values:
        limit = values["limit"]
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not math.isfinite(limit):
            raise _refuse("must be a finite number of yuan", "new_values.limit")
        if limit < 0:
            raise _refuse("must not be negative", "new_values.limit")
        if limit > 0 and limits.product is None:
            raise _refuse(
                "the decision names no product to lend under, so only 0 is possible", "new_values.limit"
            )
        if limit > limits.cap:
            raise _refuse(
                f"above the cap of {limits.product or 'the product'} ({limits.cap:,.0f} yuan)",
                "new_values.limit",
            )
        unit = limits.rounding_unit
        if unit > 0 and not math.isclose(limit / unit, round(limit / unit), rel_tol=0, abs_tol=1e-9):
            raise _refuse(
                f"must be a whole number of {unit:,.0f} yuan (the product's rounding unit)",
                "new_values.limit",
            )
        values["limit"] = float(limit)
    before = {"decision": str(in_force["decision"]), "limit": float(in_force["limit"] or 0.0)}
    after = {**before, **values}
    if after["decision"] == "decline":
        if "limit" in values and float(values["limit"]) != 0.0:
            raise _refuse("a declined loan lends nothing, so the limit must be 0", "new_values.limit")
        values["limit"] = after["limit"] = 0.0
    if after["decision"] == "approve" and float(after["limit"]) <= 0.0:
        raise _refuse("an approval lends something, so give a limit above 0", "new_values.limit")
    if after["decision"] == "approve" and limits.product is None:
        raise _refuse("the decision names no product to lend under", "new_values.decision")
    if after == before:
        raise _refuse("changes nothing in the decision in force", "new_values")
    reason = policy.reason(reason_code)
    if reason is None:
        codes = ", ".join(r.code for r in policy.reason_codes)
        raise _refuse(f"unknown override reason code; expected one of {codes}", "reason_code")
    direction = _direction(before, after)
    if reason.direction != "any" and direction != "none" and reason.direction != direction:
        raise _refuse(
            f"{reason.code} justifies a change {reason.direction}, and this override goes {direction}",
            "reason_code",
        )
    return Checked(values, before, after, four_eyes_reasons(before, after, policy))


def four_eyes_reasons(
    before: Mapping[str, Any], after: Mapping[str, Any], policy: OverridePolicy
) -> list[str]:
    """Why an override from ``before`` to ``after`` needs a second officer (empty: it does not)."""
    rules = policy.four_eyes
    out = []
    increase = float(after["limit"]) - float(before["limit"])
    if increase > rules.limit_increase_above:
        out.append(f"limit_increase_above:{rules.limit_increase_above:.0f}")
    if float(after["limit"]) > rules.limit_above:
        out.append(f"limit_above:{rules.limit_above:.0f}")
    if rules.decline_to_approve and before["decision"] != "approve" and after["decision"] == "approve":
        out.append("decline_to_approve")
    return out


def decision_in_force(record: Mapping[str, Any], steps: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The decision in force after the override steps (override and review records in chain order).

    An override is in force when it was recorded ``in_force`` (or by a release without four eyes, which
    has no ``status``), or when an ``approved`` review of it follows; it applies at that point. Pending and
    rejected overrides change nothing.

    Returns ``{"decision", "limit", "product", "by"}`` (``by``: the id of the last override in force, or
    None for the original decision).
    """
    limit = record.get("limit") or {}
    state: dict[str, Any] = {
        "decision": record.get("decision"),
        "limit": float(limit.get("limit") or 0.0),
        "product": limit.get("product"),
        "by": None,
    }
    pending: dict[str, Mapping[str, Any]] = {}
    for step in steps:
        if "review_of" in step:
            override = pending.pop(str(step["review_of"]), None)
            if override is not None and step.get("verdict") == "approved":
                _apply(state, override)
            continue
        status = step.get("status", "in_force")
        if status == "pending":
            pending[str(step["id"])] = step
        elif status == "in_force":
            _apply(state, step)
    return state


def _apply(state: dict[str, Any], override: Mapping[str, Any]) -> None:
    values = override.get("new_values") or {}
    if values.get("decision") in DECISIONS:
        state["decision"] = values["decision"]
    limit = values.get("limit")
    if isinstance(limit, int | float) and not isinstance(limit, bool):
        state["limit"] = float(limit)
    state["by"] = override.get("id")
