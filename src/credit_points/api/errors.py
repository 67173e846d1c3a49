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
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from credit_points.audit.store import (
    IdempotencyConflictError,
    NotFoundError,
    OverrideNotPendingError,
    StaleOverrideError,
)
from credit_points.exceptions import AuditError, DataValidationError, ModelError

logger = logging.getLogger("credit_points.api")

ErrorLike = dict[str, str]
"""One ``{field, type, message}`` problem."""

MAX_LISTED_ERRORS = 20
"""An answer lists at most this many problems, then one row counting the rest: its size stays bounded."""

#: the longest integer literal a body may carry (Python's own limit on converting digits to an int)
MAX_INT_DIGITS = 4300

_EXPECTED = {
    "float_type": "a JSON number",
    "int_type": "a JSON integer",
    "bool_type": "a JSON boolean (true or false)",
    "string_type": "a JSON string",
    "date_type": "a date as a JSON string YYYY-MM-DD",
    "dict_type": "a JSON object",
    "list_type": "a JSON array",
    "model_type": "a JSON object",
}


class IntegerLiteralTooLong:
    """Stands for an integer literal of more than :data:`MAX_INT_DIGITS` digits in a decoded body.

    Decoding does not fail on it (that would leave the field unnamed): validation refuses it at its field.
    """

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int | IntegerLiteralTooLong:
    digits = len(text.lstrip("-"))
    return IntegerLiteralTooLong(digits) if digits > MAX_INT_DIGITS else int(text)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | IntegerLiteralTooLong):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def capped(errors: list[ErrorLike], total: int | None = None) -> list[ErrorLike]:
    """The first :data:`MAX_LISTED_ERRORS` problems and, when there are more, one row counting them.

    Examples:
        >>> rows = [{"field": f"x{i}", "type": "extra_forbidden", "message": "m"} for i in range(25)]
        >>> capped(rows)[-1]
        {'field': '(more)', 'type': 'too_many_errors', 'message': '5 more problems not listed (25 in all)'}
    """
    total = len(errors) if total is None else total
    if total <= MAX_LISTED_ERRORS:
        return errors
    more = {
        "field": "(more)",
        "type": "too_many_errors",
        "message": f"{total - MAX_LISTED_ERRORS} more problems not listed ({total} in all)",
    }
    return [*errors[:MAX_LISTED_ERRORS], more]


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
        kind = str(err.get("type", "value_error"))
        message = str(err.get("msg", "invalid value"))
        value = err.get("input")
        if isinstance(value, IntegerLiteralTooLong):
            kind, message = "int_too_long", f"integer literal of more than {MAX_INT_DIGITS} digits"
        elif kind in _EXPECTED and "input" in err:
            # what was expected and the JSON type that came (never the value itself)
            message = f"expected {_EXPECTED[kind]}, got a JSON {_json_type(value)}"
        elif isinstance(value, str) and len(value) >= 2 and value in message:
            message = message.replace(value, "[value]")
        out.append({"field": _field_of([*prefix, *err.get("loc", ())]), "type": kind, "message": message})
    return out


def validation_errors(exc: ValidationError, prefix: Sequence[Any] = ()) -> list[dict[str, str]]:
    """A pydantic ``ValidationError`` as :func:`describe_errors` rows, at most :data:`MAX_LISTED_ERRORS`."""
    errors = exc.errors(include_url=False, include_context=False, include_input=True)
    return capped(describe_errors(errors[: MAX_LISTED_ERRORS + 1], prefix), len(errors))


def check_object(
    model: type[BaseModel], data: Mapping[str, Any], prefix: Sequence[Any] = ()
) -> tuple[BaseModel | None, list[ErrorLike]]:
    """``data`` validated by ``model``, or the problems (at most :data:`MAX_LISTED_ERRORS` and a count).

    A model that refuses unknown keys has them counted first: past the cap, the answer names the first
    ones and the count without validating the rest, so neither the work nor the answer grows with the body.
    """
    if model.model_config.get("extra") == "forbid":
        unknown = [key for key in data if key not in model.model_fields]
        if len(unknown) > MAX_LISTED_ERRORS:
            rows = [
                {"field": _field_of([*prefix, key]), "type": "extra_forbidden", "message": "Extra inputs are not permitted"}
                for key in unknown[: MAX_LISTED_ERRORS + 1]
            ]  # fmt: skip
            return None, capped(rows, len(unknown))
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, validation_errors(exc, prefix)


def engine_refusal(exc: DataValidationError) -> ErrorLike:
    """An engine's refusal of an applicant as a ``{field, type, message}`` row: the rule, never the value."""
    field = exc.field or "(body)"
    row = f"[{exc.row - 1}]." if exc.row is not None else ""
    text = str(exc).rsplit(": ", 1)[-1]
    if exc.value is not None and str(exc.value) and str(exc.value) in text:
        text = text.replace(str(exc.value), "[value]")
    return {"field": f"{row}{field}", "type": "engine_rule", "message": text}


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
        # UTF-8 only (``json.loads`` of bytes would also take UTF-16 and UTF-32); an integer literal too
        # long to convert is kept as a marker that validation refuses at its field
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_int=_parse_int)
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
            408: "body_timeout",
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

    @app.exception_handler(StaleOverrideError)
    async def _stale(request: Request, exc: StaleOverrideError) -> JSONResponse:
        return error_response(request, 409, "override_conflict", str(exc))

    @app.exception_handler(OverrideNotPendingError)
    async def _not_pending(request: Request, exc: OverrideNotPendingError) -> JSONResponse:
        return error_response(request, 409, "override_not_pending", str(exc))

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return error_response(request, 404, "not_found", "no such decision")

    @app.exception_handler(AuditError)
    async def _audit(request: Request, exc: AuditError) -> JSONResponse:
        ctx = getattr(request.app.state, "ctx", None)
        if ctx is not None:
            ctx.metrics.audit_failures.inc()
            ctx.note_store_failure()
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
        return error_response(
            request,
            422,
            "validation_error",
            "the applicant was refused by the engine",
            errors=[engine_refusal(exc)],
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error request_id=%s", request_id_of(request), exc_info=exc)
        return error_response(
            request, 500, "internal_error", "an internal error occurred; quote the correlation id"
        )
