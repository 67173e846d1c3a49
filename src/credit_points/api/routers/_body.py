"""Reading and validating request bodies inside routes (after authentication), and rendering stored rows."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from credit_points.api.errors import ApiError, check_object, parse_json
from credit_points.api.schemas import ErrorOut
from credit_points.audit.store import AuditRow

_JSON_TYPES = ("application/json", "application/problem+json")

#: error answers every authenticated route may give (the routers' default ``responses``)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No or bad API key."},
    403: {"model": ErrorOut, "description": "The key lacks the scope."},
    413: {"model": ErrorOut, "description": "Body too large."},
    422: {"model": ErrorOut, "description": "Invalid input; names the fields, never echoes values."},
    503: {
        "model": ErrorOut,
        "description": "Not ready, overloaded or audit store unavailable; nothing stored.",
    },
}
#: the extra answer of a route that reads a JSON body
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    415: {"model": ErrorOut, "description": "The body is not JSON."}
}
#: the extra answer of a route that reads one stored decision
NOT_FOUND_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such decision."}
}


async def read_json(request: Request) -> Any:
    """The request's JSON body (415 for another media type, 413 past the size limit, 422 when malformed)."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type and not (content_type in _JSON_TYPES or content_type.endswith("+json")):
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.body()
    if len(raw) > 64_000:
        return await run_in_threadpool(parse_json, raw)
    return parse_json(raw)


def validate(model: type[BaseModel], data: Any, prefix: tuple[Any, ...] = ()) -> BaseModel:
    """``data`` validated by ``model``; 422 naming the fields at fault (at most 20 and a count), no values."""
    if not isinstance(data, dict):
        raise ApiError(
            422,
            "validation_error",
            "the body must be a JSON object",
            errors=[{"field": "(body)", "type": "model_type", "message": "expected a JSON object"}],
        )
    checked, errors = check_object(model, data, prefix)
    if checked is None:
        raise ApiError(422, "validation_error", "the request is not valid", errors=errors)
    return checked


def row_meta(row: AuditRow) -> dict[str, Any]:
    """The envelope fields of a stored row (everything but the record)."""
    return {
        "decision_id": row.decision_id,
        "kind": row.kind,
        "parent_id": row.parent_id,
        "created_at": row.created_at,
        "request_id": row.request_id,
        "model_version": row.model_version,
        "decision": row.decision,
        "prob_default": row.prob_default,
        "limit": row.limit_amount,
        "row_hash": row.row_hash,
        "idempotent_replay": not row.is_new,
    }


def envelope_json(row: AuditRow, overrides: list[AuditRow] | None = None) -> str:
    """A stored row as JSON text; its ``record`` is the stored canonical JSON itself, byte for byte."""
    meta = json.dumps(row_meta(row), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    parts = [meta[:-1], ',"record":', row.record_json]
    if overrides is not None:
        parts += [',"overrides":[', ",".join(envelope_json(o) for o in overrides), "]"]
    parts.append("}")
    return "".join(parts)


def applicant_openapi(schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body that the route reads itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }
