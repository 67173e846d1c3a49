"""Administration: reload the model (validated, then swapped atomically; a failing candidate is refused)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from credit_points.api.deps import AdminKey, Ctx
from credit_points.api.errors import ApiError, request_id_of
from credit_points.api.routers._body import (
    BODY_RESPONSES,
    ERROR_RESPONSES,
    applicant_openapi,
    read_json,
    validate,
)
from credit_points.api.schemas import ErrorOut, ReloadIn
from credit_points.exceptions import ModelError

logger = logging.getLogger("credit_points.api")


def build_router() -> APIRouter:
    """The admin router."""
    router = APIRouter(prefix="/admin", tags=["admin"], responses=ERROR_RESPONSES)

    @router.post(
        "/reload",
        summary="重新加载模型 / Reload the model",
        responses={
            409: {"model": ErrorOut, "description": "The candidate was refused; the old model serves."},
            **BODY_RESPONSES,
        },
        openapi_extra=applicant_openapi(
            ReloadIn.model_json_schema(), {"model_uri": "models:/credit-points@champion"}
        ),
    )
    async def reload_model(request: Request, key: AdminKey, ctx: Ctx) -> JSONResponse:
        """Validate a model (hash, golden predictions) and swap it in atomically; 409 if refused."""
        raw = await request.body()
        body = validate(ReloadIn, await read_json(request)) if raw.strip() else ReloadIn()
        before = ctx.service.model_version()
        try:
            result = await run_in_threadpool(ctx.service.reload, body.model_uri)  # type: ignore[attr-defined]
        except ModelError as exc:
            logger.warning("reload refused request_id=%s key=%s: %s", request_id_of(request), key.key_id, exc)
            raise ApiError(
                409, "reload_refused", f"the candidate was refused; {before} keeps serving: {exc}"
            ) from None
        logger.info(
            "model reloaded request_id=%s key=%s from=%s to=%s",
            request_id_of(request),
            key.key_id,
            before,
            ctx.service.model_version(),
        )
        return JSONResponse(result)

    return router
