"""Error answers of the API: one JSON shape, a correlation id, no traceback and no submitted value echoed.

``422`` bodies name each field and the kind of problem; the value sent is never repeated (FastAPI's
default handler repeats it, which would leak enterprise data into client logs). ``500`` bodies carry only
the correlation id; the traceback goes to the (scrubbed) server log under that id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from credit_points.audit.store import IdempotencyConflictError, NotFoundError
from credit_points.exceptions import AuditError, DataValidationError, ModelError

logger = logging.getLogger("credit_points.api")

ErrorLike = dict[str, str]
"""One ``{field, type, message}`` problem."""


class ApiError(Exception):
    """An answer other than success, raised anywhere in a request and rendered by :func:`install_handlers`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})


def request_id_of(request: Request) -> str:
    """The request's correlation id (set by the guard middleware)."""
    return str(getattr(request.state, "request_id", "") or "-")


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The error body every failure uses."""
    body: dict[str, Any] = {"error": code, "message": message, "correlation_id": request_id_of(request)}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _field_of(loc: Iterable[Any]) -> str:
    parts: list[str] = []
    for part in loc:
        if part == "body" and not parts:
            continue
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(body)"


def describe_errors(errors: Sequence[Mapping[str, Any]], prefix: Sequence[Any] = ()) -> list[dict[str, str]]:
    """Pydantic errors as ``{field, type, message}`` without the submitted input.

    Messages are kept (they name limits and allowed values, which come from config), except that any
    text value the client sent is cut out of them.

    Examples:
        >>> describe_errors([{"loc": ("revenue",), "type": "finite_number", "msg": "Input should be a finite number", "input": float("nan")}])
        [{'field': 'revenue', 'type': 'finite_number', 'message': 'Input should be a finite number'}]
    """
    out = []
    for err in errors:
        message = str(err.get("msg", "invalid value"))
        value = err.get("input")
        if isinstance(value, str) and len(value) >= 2 and value in message:
            message = message.replace(value, "[value]")
        out.append(
            {
                "field": _field_of([*prefix, *err.get("loc", ())]),
                "type": str(err.get("type", "value_error")),
                "message": message,
            }
        )
    return out


def validation_errors(exc: ValidationError, prefix: Sequence[Any] = ()) -> list[dict[str, str]]:
    """A pydantic ``ValidationError`` as :func:`describe_errors` rows."""
    return describe_errors(exc.errors(include_url=False, include_context=False, include_input=True), prefix)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ApiError(
                422,
                "validation_error",
                "duplicate key in the JSON body",
                errors=[
                    {"field": str(key), "type": "duplicate_key", "message": "key appears more than once"}
                ],
            )
        seen[key] = value
    return seen


def parse_json(raw: bytes) -> Any:
    """Decode a request body; malformed JSON and duplicate keys are 422 (position given, content not).

    ``NaN`` and ``Infinity`` literals decode to floats here and are refused by the models' finiteness
    check, which names the field.
    """
    if not raw.strip():
        raise ApiError(
            422,
            "validation_error",
            "the request body is empty",
            errors=[{"field": "(body)", "type": "missing", "message": "a JSON body is required"}],
        )
    try:
        return json.loads(raw, object_pairs_hook=_reject_duplicates)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = (
            f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "encoding"
        )
        raise ApiError(
            422,
            "invalid_json",
            f"the body is not valid UTF-8 JSON ({where})",
            errors=[{"field": "(body)", "type": "json_invalid", "message": f"not valid JSON at {where}"}],
        ) from None
    except RecursionError:
        raise ApiError(422, "invalid_json", "the body is nested too deeply") from None


def install_handlers(app: FastAPI) -> None:
    """Register the error handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        ctx = getattr(request.app.state, "ctx", None)
        if exc.status == 422 and ctx is not None:
            ctx.metrics.validation_errors.inc()
        return error_response(
            request, exc.status, exc.code, exc.message, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = describe_errors(list(exc.errors()))
        return error_response(request, 422, "validation_error", "the request is not valid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
            415: "unsupported_media_type",
        }
        return error_response(
            request,
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=exc.headers,
        )

    @app.exception_handler(IdempotencyConflictError)
    async def _idem(request: Request, exc: IdempotencyConflictError) -> JSONResponse:
        return error_response(request, 422, "idempotency_key_reused", str(exc))

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return error_response(request, 404, "not_found", "no such decision")

    @app.exception_handler(AuditError)
    async def _audit(request: Request, exc: AuditError) -> JSONResponse:
        ctx = getattr(request.app.state, "ctx", None)
        if ctx is not None:
            ctx.metrics.audit_failures.inc()
        logger.error("audit store unavailable request_id=%s: %s", request_id_of(request), exc)
        return error_response(
            request,
            503,
            "audit_unavailable",
            "the audit store is unavailable; nothing was decided or stored",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(ModelError)
    async def _model(request: Request, exc: ModelError) -> JSONResponse:
        logger.error("model unavailable request_id=%s: %s", request_id_of(request), exc)
        return error_response(
            request, 503, "model_unavailable", "no validated model is serving", headers={"Retry-After": "5"}
        )

    @app.exception_handler(DataValidationError)
    async def _data(request: Request, exc: DataValidationError) -> JSONResponse:
        field = exc.field or "(body)"
        row = f"[{exc.row - 1}]." if exc.row is not None else ""
        # the message names the rule; the value is deliberately left out
        text = str(exc).rsplit(": ", 1)[-1]
        if exc.value is not None and str(exc.value) and str(exc.value) in text:
            text = text.replace(str(exc.value), "[value]")
        return error_response(
            request,
            422,
            "validation_error",
            "the applicant was refused by the engine",
            errors=[{"field": f"{row}{field}", "type": "engine_rule", "message": text}],
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error request_id=%s", request_id_of(request), exc_info=exc)
        return error_response(
            request, 500, "internal_error", "an internal error occurred; quote the correlation id"
        )
