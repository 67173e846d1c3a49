"""Decisions: decide one applicant or a batch, read a stored decision, its report, and override it.

Every decision is committed to the audit store before it is answered; if the store fails the answer is
503 and carries no PD or limit. Invalid input is refused before the engine is called.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from credit_points.api.decide import (
    BatchOutcome,
    DecisionRequest,
    FourEyesError,
    decide_and_record_many,
    decide_batch,
    in_force_and_history,
    record_override,
    report_record,
    review_override,
    stored_decision,
)
from credit_points.api.deps import (
    AppContext,
    ApproveKey,
    Ctx,
    OverrideKey,
    ReadKey,
    ReadyService,
    ReportKey,
    WriteKey,
)
from credit_points.api.errors import ApiError, engine_refusal, request_id_of
from credit_points.api.routers._body import (
    BODY_RESPONSES,
    ERROR_RESPONSES,
    NOT_FOUND_RESPONSES,
    applicant_openapi,
    envelope_json,
    read_json,
    validate,
)
from credit_points.api.schemas import (
    OVERRIDE_EXAMPLE,
    BatchIn,
    BatchOut,
    DecisionOut,
    ErrorOut,
    OverrideIn,
    ReviewIn,
    StoredDecisionOut,
    applicant_example,
)
from credit_points.api.service import DecisionService
from credit_points.audit.store import AuditRow
from credit_points.config import canonical_json, sha256_text
from credit_points.exceptions import DataValidationError

_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")
_DECISION_ID = Annotated[
    str, Path(pattern=r"^(?:[0-9a-f]{32}|[0-9A-HJKMNP-TV-Z]{26})$", description="决策编号 / Decision id.")
]


def _json_response(
    text: str, status: int, row: AuditRow | None = None, headers: dict[str, str] | None = None
) -> Response:
    all_headers = dict(headers or {})
    if row is not None and row.model_version:
        all_headers["X-Model-Version"] = row.model_version
    return Response(
        content=text.encode("utf-8"), status_code=status, media_type="application/json", headers=all_headers
    )


def build_router(applicant_model: type[BaseModel], max_batch: int) -> APIRouter:
    """The decisions router for an applicant model and batch limit."""
    router = APIRouter(prefix="/v1/decisions", tags=["decisions"], responses=ERROR_RESPONSES)
    schema = applicant_model.model_json_schema()
    example = applicant_example()

    @router.post(
        "",
        summary="决策 / Decide one applicant",
        status_code=201,
        response_model=DecisionOut,
        responses={
            200: {"model": DecisionOut, "description": "Idempotent replay of an earlier answer."},
            **BODY_RESPONSES,
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
        responses=BODY_RESPONSES,
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
        answer = await run_in_threadpool(
            _batch_answer, ctx, service, applicant_model, applicants, key.key_id, request_id
        )
        return _json_response(answer, 200)

    @router.get(
        "/{decision_id}",
        summary="查询决策 / Read a stored decision",
        response_model=StoredDecisionOut,
        responses=NOT_FOUND_RESPONSES,
    )
    async def get_decision(decision_id: _DECISION_ID, key: ReadKey, ctx: Ctx) -> Response:
        """The stored decision (byte for byte as recorded), the overrides and reviews linked to it, the
        decision in force after them and its history (who changed what from what to what, and who
        approved)."""
        row, overrides = await run_in_threadpool(stored_decision, ctx, decision_id)
        text = envelope_json(row, overrides)
        if row.kind == "decision":
            extra = json.dumps(
                in_force_and_history(row, overrides), ensure_ascii=False, separators=(",", ":")
            )
            text = text[:-1] + "," + extra[1:]
        return _json_response(text, 200, row)

    @router.get(
        "/{decision_id}/report",
        summary="决策报告 / Per-loan report",
        responses={
            200: {"content": {"text/html": {}, "application/pdf": {}, "application/json": {}}},
            **NOT_FOUND_RESPONSES,
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
        row, overrides = await run_in_threadpool(stored_decision, ctx, decision_id)
        if row.kind != "decision":
            raise ApiError(404, "not_found", "no such decision")
        record = report_record(row, overrides)
        content, media_type = await run_in_threadpool(service.render_report, record, format, lang)
        return Response(content=content, media_type=media_type)

    @router.post(
        "/{decision_id}/override",
        summary="人工覆盖 / Override a decision",
        status_code=201,
        response_model=DecisionOut,
        responses={
            **NOT_FOUND_RESPONSES,
            **BODY_RESPONSES,
            409: {
                "model": ErrorOut,
                "description": "Another override was recorded meanwhile; read and retry.",
            },
        },
        openapi_extra=applicant_openapi(OverrideIn.model_json_schema(), OVERRIDE_EXAMPLE),
    )
    async def override_decision(
        decision_id: _DECISION_ID, request: Request, key: OverrideKey, ctx: Ctx, service: ReadyService
    ) -> Response:
        """Record an override of the decision in force, checked like a decision (known fields, the product's
        cap and rounding unit, decline ⇒ limit 0, a reason code from the table). The actor is the key's
        owner. Above the four-eyes size it is ``pending`` until a second officer approves it. The original
        row stays byte-identical."""
        body = validate(OverrideIn, await read_json(request))
        try:
            row = await run_in_threadpool(
                record_override, ctx, service, decision_id, body, key, request_id=request_id_of(request)
            )
        except DataValidationError as exc:
            raise ApiError(
                422, "validation_error", "the override breaks a rule; nothing was recorded",
                errors=[engine_refusal(exc)],
            ) from None  # fmt: skip
        return _json_response(envelope_json(row), 201, None, {"Location": f"/v1/decisions/{row.decision_id}"})

    for verdict, path, title in (
        ("approved", "approve", "批准覆盖 / Approve a pending override"),
        ("rejected", "reject", "驳回覆盖 / Reject a pending override"),
    ):
        router.add_api_route(
            f"/{{decision_id}}/overrides/{{override_id}}/{path}",
            _review_route(verdict),
            methods=["POST"],
            summary=title,
            status_code=201,
            response_model=DecisionOut,
            responses={
                **NOT_FOUND_RESPONSES,
                403: {
                    "model": ErrorOut,
                    "description": "The key lacks decision:approve, or asked for the override.",
                },
                409: {"model": ErrorOut, "description": "The override is not pending."},
            },
        )

    return router


def _review_route(verdict: str) -> Any:
    async def review(
        decision_id: _DECISION_ID, override_id: _DECISION_ID, request: Request, key: ApproveKey, ctx: Ctx
    ) -> Response:
        """A second officer's review of a pending override, appended to the chain; the decision in force
        changes only on approval. The key (and its owner) that asked for the override is refused (403)."""
        raw = await request.body()
        body = validate(ReviewIn, await read_json(request)) if raw.strip() else ReviewIn()
        try:
            row = await run_in_threadpool(
                review_override, ctx, decision_id, override_id, verdict, key,
                comment=body.comment, request_id=request_id_of(request),  # type: ignore[attr-defined]
            )  # fmt: skip
        except FourEyesError:
            raise ApiError(
                403, "four_eyes", "the officer who asked for the override cannot also review it"
            ) from None
        return _json_response(envelope_json(row), 201, None, {"Location": f"/v1/decisions/{row.decision_id}"})

    review.__name__ = f"review_override_{verdict}"
    return review


def _batch_answer(
    ctx: AppContext,
    service: DecisionService,
    applicant_model: type[BaseModel],
    applicants: list[object],
    client_id: str,
    request_id: str,
) -> str:
    """The batch decided and stored (``api.decide.decide_batch``), rendered as the answer's JSON text."""
    outcome = decide_batch(
        ctx, service, applicant_model, applicants, client_id=client_id, request_id=request_id
    )
    return _batch_json(outcome, request_id)


def _batch_json(outcome: BatchOutcome, request_id: str) -> str:
    """``BatchOut`` as text; each stored decision's record is its stored canonical JSON, byte for byte."""
    parts = []
    for index in range(outcome.n):
        if index in outcome.rows:
            parts.append(
                f'{{"index":{index},"status":"ok","decision":{envelope_json(outcome.rows[index])},"errors":null}}'
            )
        else:
            parts.append(
                json.dumps(
                    {"index": index, "status": "error", "decision": None, "errors": outcome.errors[index]},
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
            )
    head = json.dumps(
        {"request_id": request_id, "n_ok": len(outcome.rows), "n_error": len(outcome.errors)},
        separators=(",", ":"),
    )
    return head[:-1] + ',"results":[' + ",".join(parts) + "]}"
