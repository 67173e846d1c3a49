"""Deciding and recording behind the decision routes: the engine call, the audit rows, per-item errors.

Nothing here speaks HTTP. The routes in ``api/routers/decisions.py`` parse bodies and headers, call one
function of this module and render what it returns (audit rows, per-item errors) with status codes and
headers. Every decision is committed to the audit store before any function here returns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from credit_points.api.deps import AppContext
from credit_points.api.errors import ErrorLike, check_object, engine_refusal
from credit_points.api.service import DecisionService
from credit_points.audit.keys import ApiKey
from credit_points.audit.overrides import in_force_and_history, step_records
from credit_points.audit.store import AuditRow, DecisionAppend, IdempotencyConflictError, NotFoundError
from credit_points.config import canonical_json, sha256_text
from credit_points.exceptions import AuditError, DataValidationError, ModelError
from credit_points.policy.overrides import ProductLimits, check_override, decision_in_force

_OUTCOMES = frozenset({"approve", "refer", "decline"})


@dataclass(frozen=True)
class DecisionRequest:
    """One ``POST /v1/decisions`` request, validated at the door, waiting for its batch."""

    applicant: dict[str, Any]
    body_sha256: str
    client_id: str
    request_id: str
    idempotency_key: str | None


@dataclass
class BatchOutcome:
    """What ``POST /v1/decisions/batch`` did with each item: its stored row, or the reasons it was refused."""

    n: int
    rows: dict[int, AuditRow] = field(default_factory=dict)
    errors: dict[int, list[ErrorLike]] = field(default_factory=dict)


def _one_record(records: Any, n: int) -> list[dict[str, Any]]:
    if not isinstance(records, list) or len(records) != n or not all(isinstance(r, dict) for r in records):
        raise ModelError(f"the decision service returned {type(records).__name__} instead of {n} records")
    return records


def _engine_defect(exc: DataValidationError) -> RuntimeError:
    """A record the store refuses (NaN, wrong types at indexed keys) is the engine's bug, not the client's: 500."""
    return RuntimeError(f"the decision service returned a record the audit store refuses: {exc}")


def _count(ctx: AppContext, rows: list[AuditRow]) -> None:
    for row in rows:
        if row.is_new:
            ctx.metrics.audit_rows.labels("decision").inc()
            ctx.metrics.decisions.labels(row.decision if row.decision in _OUTCOMES else "other").inc()


def decide_isolated(service: DecisionService, applicants: list[dict[str, Any]]) -> list[Any]:
    """One record per applicant, or that applicant's own exception.

    The batch is decided in one call; if that call fails for any reason but an unusable model (which
    fails every applicant alike), each applicant is decided alone, so one bad applicant never takes its
    neighbours down with it.
    """
    if not applicants:
        return []
    try:
        return _one_record(service.decide(applicants), len(applicants))
    except ModelError:
        raise
    except Exception as exc:
        if len(applicants) == 1:
            return [exc]
    outcomes: list[Any] = []
    for applicant in applicants:
        try:
            outcomes.append(_one_record(service.decide([applicant]), 1)[0])
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - this applicant's own error, answered to its caller
            outcomes.append(exc)
    return outcomes


def idempotent_outcomes(ctx: AppContext, requests: Sequence[DecisionRequest]) -> list[Any]:
    """For each request: the earlier row its idempotency key answers with, the error it gets, or None."""
    outcomes: list[Any] = [None] * len(requests)
    for i, req in enumerate(requests):
        if req.idempotency_key is None:
            continue
        try:
            earlier = ctx.store.find_idempotent(req.client_id, req.idempotency_key)
        except AuditError as exc:
            outcomes[i] = exc
            continue
        if earlier is not None:
            outcomes[i] = earlier if earlier.body_sha256 == req.body_sha256 else IdempotencyConflictError()
    return outcomes


def _decides_on_loop(service: DecisionService) -> bool:
    """Whether the service says its ``decide`` is pure, bounded computation (no I/O, milliseconds)."""
    return getattr(service, "decides_in_process", False) is True


async def decide_and_record_many(ctx: AppContext, requests: Sequence[DecisionRequest]) -> list[Any]:
    """Decide several callers' requests in one engine call and commit their rows in one transaction.

    Called by the :class:`~credit_points.api.batcher.MicroBatcher`. Returns one outcome per request: its
    :class:`AuditRow` (new, or the earlier one an idempotent repeat gets back) or the exception its caller
    raises. Every row is committed before any outcome is returned.

    Database work (idempotency look-ups, the audit commit) runs in worker threads, so a slow or hanging
    store never stalls the event loop. The engine call runs on the event loop itself when the service
    declares ``decides_in_process`` (pure computation of a few milliseconds): handing it to a thread would
    make the engine and the event loop take turns on the interpreter lock, which costs more than the call.
    """
    service = ctx.service  # one read: the whole batch uses one model version
    ctx.metrics.decision_batch.observe(len(requests))
    if any(r.idempotency_key is not None for r in requests):
        outcomes = await run_in_threadpool(idempotent_outcomes, ctx, requests)
    else:
        outcomes = [None] * len(requests)
    todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
    applicants = [requests[i].applicant for i in todo]
    if _decides_on_loop(service):
        decided = decide_isolated(service, applicants)
    else:
        decided = await run_in_threadpool(decide_isolated, service, applicants)
    appends: list[DecisionAppend] = []
    where: list[int] = []
    for i, record in zip(todo, decided, strict=True):
        if isinstance(record, BaseException):
            outcomes[i] = record
            continue
        req = requests[i]
        appends.append(
            DecisionAppend(
                record,
                request_id=req.request_id,
                client_id=req.client_id,
                idempotency_key=req.idempotency_key,
                body_sha256=req.body_sha256,
            )
        )
        where.append(i)
    if appends:
        stored = await run_in_threadpool(ctx.store.append_decision_items, appends)
        for i, outcome in zip(where, stored, strict=True):
            outcomes[i] = _engine_defect(outcome) if isinstance(outcome, DataValidationError) else outcome
        new = [i for i in where if isinstance(outcomes[i], AuditRow) and outcomes[i].is_new]
        ctx.shadow_decide([(outcomes[i].decision_id, requests[i].applicant) for i in new])
    _count(ctx, [o for o in outcomes if isinstance(o, AuditRow)])
    return outcomes


def decide_batch(
    ctx: AppContext,
    service: DecisionService,
    applicant_model: type[BaseModel],
    applicants: list[Any],
    *,
    client_id: str,
    request_id: str,
) -> BatchOutcome:
    """Validate each item, decide the good ones in one call and commit their rows in one transaction.

    A bad item is reported with its errors and never stops the others; nothing is stored for it.
    """
    outcome = BatchOutcome(len(applicants))
    good: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(applicants):
        if not isinstance(item, dict):
            outcome.errors[index] = [
                {"field": "(row)", "type": "model_type", "message": "expected a JSON object"}
            ]
            continue
        checked, errors = check_object(applicant_model, item)
        if checked is None:
            outcome.errors[index] = errors
        else:
            good.append((index, checked.model_dump(mode="json")))
    decided = decide_isolated(service, [a for _, a in good])
    kept: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for (index, applicant), record in zip(good, decided, strict=True):
        if isinstance(record, DataValidationError):  # the engine refuses this applicant (e.g. its zone)
            outcome.errors[index] = [engine_refusal(record)]
        elif isinstance(record, BaseException):
            raise record
        else:
            kept.append((index, applicant, record))
    ctx.metrics.validation_errors.inc(len(outcome.errors))
    if kept:
        try:
            stored = ctx.store.append_decisions(
                [record for _, _, record in kept],
                request_id=request_id,
                client_id=client_id,
                body_sha256s=[sha256_text(canonical_json(a)) for _, a, _ in kept],
            )
        except DataValidationError as exc:
            raise _engine_defect(exc) from None
        _count(ctx, stored)
        outcome.rows = {index: row for (index, _, _), row in zip(kept, stored, strict=True)}
        ctx.shadow_decide(
            [
                (row.decision_id, applicant)
                for (_, applicant, _), row in zip(kept, stored, strict=True)
                if row.is_new
            ]
        )
    return outcome


def stored_decision(ctx: AppContext, decision_id: str) -> tuple[AuditRow, list[AuditRow]]:
    """A stored row and, for a decision, the overrides linked to it.

    Raises:
        NotFoundError: no row has the id.
    """
    row = ctx.store.get(decision_id)
    if row is None:
        raise NotFoundError(decision_id)
    return row, ctx.store.overrides_of(decision_id) if row.kind == "decision" else []


def report_record(row: AuditRow, overrides: list[AuditRow]) -> dict[str, Any]:
    """The stored decision record with the ``audit`` section its report shows (id, time, hash, overrides,
    the decision in force and its history)."""
    record = row.record
    record["audit"] = {
        "decision_id": row.decision_id,
        "created_at": row.created_at,
        "row_hash": row.row_hash,
        "overrides": [
            o.record | {"decision_id": o.decision_id, "created_at": o.created_at}
            for o in overrides
            if o.kind == "override"
        ],
        **in_force_and_history(row, overrides),
    }
    return record


def record_override(
    ctx: AppContext,
    service: DecisionService,
    decision_id: str,
    body: Any,
    key: ApiKey,
    *,
    request_id: str,
) -> AuditRow:
    """Check an officer's override against the decision in force and the pinned product (known fields,
    cap, rounding unit, decline ⇒ 0, reason code), then append it as a row linked to the decision: in force
    at once, or pending a second officer above the four-eyes size. The original stays byte-identical.

    Raises:
        NotFoundError: no such decision. DataValidationError: the override breaks a rule (422, the field
        named). StaleOverrideError: another step was recorded meanwhile (409).
    """
    row, steps = stored_decision(ctx, decision_id)
    if row.kind != "decision":
        raise NotFoundError(decision_id)
    limits_of = getattr(service, "override_limits", None)
    if limits_of is None:
        raise ModelError("the decision service cannot check overrides (no override_limits)")
    limits = ProductLimits(**limits_of(row.record))
    state = decision_in_force(row.record, step_records(steps))
    policy = ctx.override_policy
    checked = check_override(body.new_values, body.reason_code, state, limits, policy)
    reason = policy.reason(body.reason_code)
    details = {
        "reason_code": body.reason_code,
        "reason_code_text": {"zh": reason.text_zh, "en": reason.text_en} if reason else None,
        "actor": {"key_id": key.key_id, "owner": key.name},
        "officer_name": body.officer,
        "status": "pending" if checked.four_eyes else "in_force",
        "four_eyes": checked.four_eyes,
        "before": checked.before,
        "after": checked.after,
        "product": limits.product,
        "override_policy": {"version": policy.version, "hash": policy.content_hash},
    }
    stored = ctx.store.append_override(
        decision_id,
        reason=body.reason,
        officer=key.name,
        scope=body.scope or ",".join(sorted(checked.new_values)),
        new_values=checked.new_values,
        details=details,
        expected_steps=len(steps),
        request_id=request_id,
        client_id=key.key_id,
    )
    ctx.metrics.audit_rows.labels("override").inc()
    return stored


def review_override(
    ctx: AppContext,
    decision_id: str,
    override_id: str,
    verdict: str,
    key: ApiKey,
    *,
    comment: str | None,
    request_id: str,
) -> AuditRow:
    """A second officer approves or rejects a pending override: never the key, nor the owner, that asked.

    Raises:
        NotFoundError: no such override of that decision. FourEyesError: the same key or owner (403).
        OverrideNotPendingError: not pending (409).
    """
    override = ctx.store.get(override_id)
    if override is None or override.kind != "override" or override.parent_id != decision_id:
        raise NotFoundError(override_id)
    actor = override.record.get("actor") or {}
    if key.key_id == actor.get("key_id") or key.name == actor.get("owner"):
        raise FourEyesError()
    stored = ctx.store.append_review(
        decision_id,
        override_id,
        verdict=verdict,
        actor={"key_id": key.key_id, "owner": key.name},
        comment=comment,
        request_id=request_id,
        client_id=key.key_id,
    )
    ctx.metrics.audit_rows.labels("override_review").inc()
    return stored


class FourEyesError(Exception):
    """The officer who asked for an override cannot also approve or reject it."""
