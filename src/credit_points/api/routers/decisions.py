"""Decisions: decide one applicant or a batch, read a stored decision, its report, and override it.

Every decision is committed to the audit store before it is answered; if the store fails the answer is
503 and carries no PD or limit. Invalid input is refused before the engine is called.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from credit_points.api.deps import AppContext, Ctx, OverrideKey, ReadKey, ReadyService, ReportKey, WriteKey
from credit_points.api.errors import ApiError, ErrorLike, request_id_of, validation_errors
from credit_points.api.routers._body import applicant_openapi, envelope_json, read_json, validate
from credit_points.api.schemas import (
    OVERRIDE_EXAMPLE,
    BatchIn,
    BatchOut,
    DecisionOut,
    ErrorOut,
    OverrideIn,
    StoredDecisionOut,
    applicant_example,
)
from credit_points.api.service import DecisionService
from credit_points.audit.keys import ApiKey
from credit_points.audit.store import AuditRow, DecisionAppend, IdempotencyConflictError
from credit_points.config import canonical_json, sha256_text
from credit_points.exceptions import AuditError, DataValidationError, ModelError

_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")
_DECISION_ID = Annotated[
    str, Path(pattern=r"^(?:[0-9a-f]{32}|[0-9A-HJKMNP-TV-Z]{26})$", description="决策编号 / Decision id.")
]
_OUTCOMES = frozenset({"approve", "refer", "decline"})
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such decision."}}
_BODY: dict[int | str, dict[str, Any]] = {415: {"model": ErrorOut, "description": "The body is not JSON."}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No or bad API key."},
    403: {"model": ErrorOut, "description": "The key lacks the scope."},
    413: {"model": ErrorOut, "description": "Body too large."},
    422: {"model": ErrorOut, "description": "Invalid input; names the fields, never echoes values."},
    503: {
        "model": ErrorOut,
        "description": "Not ready, overloaded or audit store unavailable; nothing stored.",
    },
}


def _json_response(
    text: str, status: int, row: AuditRow | None = None, headers: dict[str, str] | None = None
) -> Response:
    all_headers = dict(headers or {})
    if row is not None and row.model_version:
        all_headers["X-Model-Version"] = row.model_version
    return Response(
        content=text.encode("utf-8"), status_code=status, media_type="application/json", headers=all_headers
    )


def _one_record(records: Any, n: int) -> list[dict[str, Any]]:
    if not isinstance(records, list) or len(records) != n or not all(isinstance(r, dict) for r in records):
        raise ModelError(f"the decision service returned {type(records).__name__} instead of {n} records")
    return records


def _engine_defect(exc: DataValidationError) -> RuntimeError:
    """A record the store refuses (NaN, wrong types at indexed keys) is the engine's bug, not the client's: 500."""
    return RuntimeError(f"the decision service returned a record the audit store refuses: {exc}")


@contextlib.contextmanager
def _engine_defects() -> Iterator[None]:
    """Raise :func:`_engine_defect` for a record the store refuses inside the block."""
    try:
        yield
    except DataValidationError as exc:
        raise _engine_defect(exc) from None


def _count(ctx: AppContext, rows: list[AuditRow]) -> None:
    for row in rows:
        if row.is_new:
            ctx.metrics.audit_rows.labels("decision").inc()
            ctx.metrics.decisions.labels(row.decision if row.decision in _OUTCOMES else "other").inc()


@dataclass(frozen=True)
class DecisionRequest:
    """One ``POST /v1/decisions`` request, validated at the door, waiting for its batch."""

    applicant: dict[str, Any]
    body_sha256: str
    client_id: str
    request_id: str
    idempotency_key: str | None


def _decide_isolated(service: DecisionService, applicants: list[dict[str, Any]]) -> list[Any]:
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


def _idempotent_outcomes(ctx: AppContext, requests: Sequence[DecisionRequest]) -> list[Any]:
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
            outcomes[i] = (
                earlier
                if earlier.body_sha256 == req.body_sha256
                else IdempotencyConflictError(
                    "idempotency key was already used with a different request body"
                )
            )
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
        outcomes = await run_in_threadpool(_idempotent_outcomes, ctx, requests)
    else:
        outcomes = [None] * len(requests)
    todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
    applicants = [requests[i].applicant for i in todo]
    if _decides_on_loop(service):
        decided = _decide_isolated(service, applicants)
    else:
        decided = await run_in_threadpool(_decide_isolated, service, applicants)
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
    _count(ctx, [o for o in outcomes if isinstance(o, AuditRow)])
    return outcomes


def build_router(applicant_model: type[BaseModel], max_batch: int) -> APIRouter:
    """The decisions router for an applicant model and batch limit."""
    router = APIRouter(prefix="/v1/decisions", tags=["decisions"], responses=_ERRORS)
    schema = applicant_model.model_json_schema()
    example = applicant_example()

    @router.post(
        "",
        summary="决策 / Decide one applicant",
        status_code=201,
        response_model=DecisionOut,
        responses={
            200: {"model": DecisionOut, "description": "Idempotent replay of an earlier answer."},
            **_BODY,
        },
        openapi_extra={
            **applicant_openapi(schema, example),
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "pattern": r"^[\x21-\x7e]+$",
                    },
                    "description": "幂等键 / Same key + same body → the same decision and one audit row; "
                    "same key + another body → 422 idempotency_key_reused.",
                }
            ],
        },
    )
    async def create_decision(request: Request, key: WriteKey, _ready: ReadyService, ctx: Ctx) -> Response:
        """One applicant → the full decision, stored in the audit log before it is answered.

        Returns the points breakdown, PD, grade, products, limit waterfall, rate, expected loss,
        decision, reason codes, model and config versions, and the ``decision_id``.
        """
        idem = request.headers.get("idempotency-key")
        if idem is not None and not _IDEMPOTENCY_KEY_RE.match(idem):
            raise ApiError(
                422,
                "validation_error",
                "bad Idempotency-Key",
                errors=[
                    {
                        "field": "Idempotency-Key",
                        "type": "string_pattern_mismatch",
                        "message": "1-200 visible ASCII characters",
                    }
                ],
            )
        applicant = validate(applicant_model, await read_json(request)).model_dump(mode="json")
        body_sha = sha256_text(canonical_json(applicant))
        request_id = request_id_of(request)
        batcher = ctx.decision_batcher
        request_ = DecisionRequest(applicant, body_sha, key.key_id, request_id, idem)
        row: AuditRow = (
            await batcher.submit(request_, getattr(request.state, "arrival", None))
            if batcher is not None
            else (await decide_and_record_many(ctx, [request_]))[0]
        )
        if isinstance(row, BaseException):
            raise row
        headers = {"Location": f"/v1/decisions/{row.decision_id}"}
        if not row.is_new:
            headers["Idempotent-Replayed"] = "true"
        return _json_response(envelope_json(row), 201 if row.is_new else 200, row, headers)

    @router.post(
        "/batch",
        summary="批量决策 / Decide a batch",
        response_model=BatchOut,
        responses=_BODY,
        openapi_extra=applicant_openapi(
            {
                **BatchIn.model_json_schema(),
                "properties": {
                    "applicants": {"type": "array", "items": schema, "minItems": 1, "maxItems": max_batch}
                },
            },
            {"applicants": [example]},
        ),
    )
    async def create_batch(request: Request, key: WriteKey, service: ReadyService, ctx: Ctx) -> Response:
        """Up to ``max_batch`` applicants: the good rows are decided and stored, the bad rows reported."""
        data = await read_json(request)
        batch = validate(BatchIn, data)
        applicants = batch.applicants  # type: ignore[attr-defined]
        if len(applicants) > max_batch:
            raise ApiError(
                422,
                "validation_error",
                f"at most {max_batch} applicants per batch",
                errors=[{"field": "applicants", "type": "too_long", "message": f"at most {max_batch} items"}],
            )
        request_id = request_id_of(request)
        results = await run_in_threadpool(_batch, ctx, service, applicant_model, applicants, key, request_id)
        return _json_response(results, 200)

    @router.get(
        "/{decision_id}",
        summary="查询决策 / Read a stored decision",
        response_model=StoredDecisionOut,
        responses=_NOT_FOUND,
    )
    async def get_decision(decision_id: _DECISION_ID, key: ReadKey, ctx: Ctx) -> Response:
        """The stored decision (byte for byte as recorded) and the overrides linked to it."""
        row, overrides = await run_in_threadpool(_load, ctx, decision_id)
        return _json_response(envelope_json(row, overrides), 200, row)

    @router.get(
        "/{decision_id}/report",
        summary="决策报告 / Per-loan report",
        responses={
            200: {"content": {"text/html": {}, "application/pdf": {}, "application/json": {}}},
            **_NOT_FOUND,
        },
    )
    async def get_report(
        decision_id: _DECISION_ID,
        key: ReportKey,
        service: ReadyService,
        ctx: Ctx,
        format: Annotated[Literal["html", "pdf", "json"], Query(description="html | pdf | json")] = "html",  # noqa: A002
        lang: Annotated[Literal["zh", "en"], Query(description="zh | en")] = "zh",
    ) -> Response:
        """The report of a stored decision, rendered from the audit row (its numbers are the row's)."""
        row, overrides = await run_in_threadpool(_load, ctx, decision_id)
        if row.kind != "decision":
            raise ApiError(404, "not_found", "no such decision")
        record = row.record
        record["audit"] = {
            "decision_id": row.decision_id,
            "created_at": row.created_at,
            "row_hash": row.row_hash,
            "overrides": [
                o.record | {"decision_id": o.decision_id, "created_at": o.created_at} for o in overrides
            ],
        }
        content, media_type = await run_in_threadpool(service.render_report, record, format, lang)
        return Response(content=content, media_type=media_type)

    @router.post(
        "/{decision_id}/override",
        summary="人工覆盖 / Override a decision",
        status_code=201,
        response_model=DecisionOut,
        responses={**_NOT_FOUND, **_BODY},
        openapi_extra=applicant_openapi(OverrideIn.model_json_schema(), OVERRIDE_EXAMPLE),
    )
    async def override_decision(
        decision_id: _DECISION_ID, request: Request, key: OverrideKey, ctx: Ctx
    ) -> Response:
        """Record an officer's override as a new row linked to the decision; the original stays byte-identical."""
        body = validate(OverrideIn, await read_json(request))
        row = await run_in_threadpool(
            ctx.store.append_override,
            decision_id,
            reason=body.reason,  # type: ignore[attr-defined]
            officer=body.officer,  # type: ignore[attr-defined]
            scope=body.scope,  # type: ignore[attr-defined]
            new_values=body.new_values,  # type: ignore[attr-defined]
            request_id=request_id_of(request),
            client_id=key.key_id,
        )
        ctx.metrics.audit_rows.labels("override").inc()
        return _json_response(envelope_json(row), 201, None, {"Location": f"/v1/decisions/{row.decision_id}"})

    return router


def _load(ctx: AppContext, decision_id: str) -> tuple[AuditRow, list[AuditRow]]:
    row = ctx.store.get(decision_id)
    if row is None:
        raise ApiError(404, "not_found", "no such decision")
    return row, ctx.store.overrides_of(decision_id) if row.kind == "decision" else []


def _batch(
    ctx: AppContext,
    service: DecisionService,
    applicant_model: type[BaseModel],
    applicants: list[Any],
    key: ApiKey,
    request_id: str,
) -> str:
    from pydantic import ValidationError

    good: list[tuple[int, dict[str, Any]]] = []
    errors: dict[int, list[ErrorLike]] = {}
    for index, item in enumerate(applicants):
        if not isinstance(item, dict):
            errors[index] = [{"field": "(row)", "type": "model_type", "message": "expected a JSON object"}]
            continue
        try:
            good.append((index, applicant_model.model_validate(item).model_dump(mode="json")))
        except ValidationError as exc:
            errors[index] = validation_errors(exc)
    ctx.metrics.validation_errors.inc(len(errors))
    rows: dict[int, AuditRow] = {}
    if good:
        records = _one_record(service.decide([a for _, a in good]), len(good))
        with _engine_defects():
            stored = ctx.store.append_decisions(
                records,
                request_id=request_id,
                client_id=key.key_id,
                body_sha256s=[sha256_text(canonical_json(a)) for _, a in good],
            )
        _count(ctx, stored)
        rows = {index: row for (index, _), row in zip(good, stored, strict=True)}
    parts = []
    for index in range(len(applicants)):
        if index in rows:
            parts.append(
                f'{{"index":{index},"status":"ok","decision":{envelope_json(rows[index])},"errors":null}}'
            )
        else:
            parts.append(
                json.dumps(
                    {"index": index, "status": "error", "decision": None, "errors": errors[index]},
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
            )
    head = json.dumps(
        {"request_id": request_id, "n_ok": len(rows), "n_error": len(errors)}, separators=(",", ":")
    )
    return head[:-1] + ',"results":[' + ",".join(parts) + "]}"
