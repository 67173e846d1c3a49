"""Request and response bodies of the API (pydantic), with bilingual descriptions and OpenAPI examples.

The applicant itself is ``ApplicantIn`` from :mod:`credit_points.datasets.record`, generated from
``configs/fields.yaml`` (the outcome column removed: an applicant never sends it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from credit_points.datasets.fields import FieldsConfig, load_fields
from credit_points.datasets.record import build_applicant_model, example_applicant

JsonScalar = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


def applicant_model(fields: FieldsConfig | None = None) -> type[BaseModel]:
    """The applicant model the API accepts: the catalogue's input fields (no outcome), strict, finite."""
    fields = fields or load_fields()
    data = fields.model_dump()
    data["fields"] = [f for f in data["fields"] if f["group"] != "outcome"]
    inputs = FieldsConfig.model_validate(data)
    return build_applicant_model(inputs, name="ApplicantIn")


def applicant_example() -> dict[str, Any]:
    """A valid applicant for the OpenAPI examples."""
    return example_applicant()


class ErrorDetail(_Strict):
    """One problem with the input; never repeats the value submitted."""

    field: str = Field(description="出错字段 / The field at fault (dotted path).", examples=["revenue"])
    type: str = Field(description="错误类型 / Machine-readable error type.", examples=["greater_than_equal"])
    message: str = Field(
        description="说明 / What is wrong.", examples=["Input should be greater than or equal to 0"]
    )


class ErrorOut(_Strict):
    """Every error answer."""

    error: str = Field(description="错误代码 / Machine-readable error code.", examples=["validation_error"])
    message: str = Field(description="说明 / What happened.")
    correlation_id: str = Field(description="关联编号 / The request id to quote to support.")
    errors: list[ErrorDetail] | None = Field(default=None, description="逐项错误 / Per-field problems (422).")


class DecisionOut(_Strict):
    """A stored decision (or override) as the audit store holds it."""

    decision_id: str = Field(
        description="决策编号 / Decision id (32 hex).", examples=["3f2a9c0e1b7d4e5f8a6b1c2d3e4f5a6b"]
    )
    kind: str = Field(description="类型 / ``decision`` or ``override``.", examples=["decision"])
    parent_id: str | None = Field(
        default=None, description="被覆盖的决策 / The decision an override belongs to."
    )
    created_at: str = Field(description="记录时间(UTC) / When the audit row was committed (UTC, ISO 8601).")
    request_id: str | None = Field(description="请求编号 / The request that created the row.")
    model_version: str | None = Field(description="模型具体版本 / The concrete model version that decided.")
    decision: str | None = Field(description="决策结果 / approve, refer or decline.", examples=["approve"])
    prob_default: float | None = Field(description="违约概率 / Probability of default (12 months).")
    limit: float | None = Field(description="授信额度(元) / Credit limit in yuan.")
    row_hash: str = Field(description="审计行哈希 / SHA-256 of the audit row (hash chain).")
    idempotent_replay: bool = Field(
        description="幂等重放 / True when an earlier answer was returned for the same key."
    )
    record: dict[str, Any] = Field(
        description="完整决策记录 / The full decision record: points breakdown, PD, grade, products, limit "
        "waterfall, rate, expected loss, decision, reason codes, model and config versions."
    )


class StoredDecisionOut(DecisionOut):
    """A decision with the overrides linked to it."""

    overrides: list[DecisionOut] = Field(
        default_factory=list, description="人工覆盖 / Overrides and their reviews, in chain order."
    )
    in_force: dict[str, Any] | None = Field(
        default=None,
        description="生效决策 / The decision in force after every override in force: decision, limit, "
        "product, by (the last override in force, or null).",
    )
    history: list[dict[str, Any]] = Field(
        default_factory=list,
        description="覆盖记录 / Each override (status in_force, pending, approved, rejected; actor, before, "
        "after, reason code) and review, in chain order.",
    )


class BatchIn(_Strict):
    """Up to ``max_batch`` applicants (1,000 by default)."""

    applicants: list[Any] = Field(min_length=1, description="申请企业列表 / The applicants.")


class BatchRowOut(_Strict):
    """One row of a batch answer: a decision, or the row's errors."""

    index: int = Field(description="行号(从0起) / Position in the request (0-based).")
    status: str = Field(description="``ok`` or ``error``.")
    decision: DecisionOut | None = None
    errors: list[ErrorDetail] | None = None


class BatchOut(_Strict):
    """Per-row results: good rows decided and stored, bad rows reported with their reasons."""

    request_id: str
    n_ok: int
    n_error: int
    results: list[BatchRowOut]


OVERRIDE_EXAMPLE: dict[str, Any] = {
    "reason_code": "O01",
    "reason": "补充提供应收账款质押",
    "officer": "王敏",
    "new_values": {"limit": 3000000},
}


class OverrideIn(_Strict):
    """A credit officer's override of a stored decision (the actor is the API key's owner)."""

    reason_code: str = Field(
        pattern=r"^O\d{2}$",
        description="覆盖原因代码 / Override reason code from configs/policy/overrides.yaml (e.g. O01).",
    )
    reason: str = Field(min_length=1, max_length=2000, description="覆盖理由 / Why, in the officer's words.")
    officer: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="审批人员姓名 / A name added beside the key's owner (never replaces it).",
    )
    scope: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^[a-z][a-z0-9_:.-]*$",
        description="覆盖范围 / What the override covers; the changed fields when omitted.",
    )
    new_values: dict[str, JsonScalar] = Field(
        min_length=1,
        description='新值 / What changes: "decision" (approve, refer, decline) and/or "limit" (yuan).',
    )

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={"examples": [OVERRIDE_EXAMPLE]},
    )


class ReviewIn(_Strict):
    """A second officer's approval or rejection of a pending override."""

    comment: str | None = Field(default=None, min_length=1, max_length=2000, description="意见 / Comment.")

    model_config = ConfigDict(extra="forbid")


class ReloadIn(_Strict):
    """Which model to load; the configured alias when omitted."""

    model_uri: str | None = Field(
        default=None, max_length=500, description="模型地址 / e.g. models:/credit-points/12."
    )


class CheckOut(_Strict):
    """One readiness check."""

    component: str = Field(examples=["model", "audit_store"])
    ok: bool
    reason: str = Field(
        description="Machine-readable reason code (model: serving, serving_local_copy, loading, "
        "model_unavailable, no_service_configured, service_factory_failed, service_error; audit_store: "
        "writable, unavailable, disk_full, write_failed). Details go to the server log only.",
        examples=["serving", "writable"],
    )


class ReadyOut(_Strict):
    """``/readyz``: ready, or not ready with machine-readable reasons."""

    status: str = Field(examples=["ready", "not_ready"])
    checks: list[CheckOut]
    model_version: str | None = None
