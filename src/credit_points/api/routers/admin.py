"""Administration: reload the model (validated, then swapped atomically; a failing candidate is refused)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from credit_points.api.deps import AdminKey, AppContext, Ctx, ReadyService
from credit_points.api.errors import ApiError, request_id_of
from credit_points.api.routers._body import (
    BODY_RESPONSES,
    ERROR_RESPONSES,
    applicant_openapi,
    read_json,
    validate,
)
from credit_points.api.schemas import ErrorOut, ReloadIn
from credit_points.exceptions import AuditError, ModelError

logger = logging.getLogger("credit_points.api")


async def _publish_and_wait(ctx: AppContext, result: dict[str, Any], *, requested_by: str) -> dict[str, Any]:
    """Publish the swapped-in version as the newest generation and wait (``reload_wait_s``) until every live
    worker serves it; when the store refuses, swap the previous version back (no worker may serve a
    model the others never hear of) and answer 503."""
    sync = ctx.sync
    try:
        generation = await run_in_threadpool(sync.published, requested_by=requested_by)
    except AuditError:
        previous = result["previous"]
        identity = sync.service.identity()
        await run_in_threadpool(
            sync.service.follow, identity["name"], previous["version"], previous["artifact_hash"]
        )
        raise
    done, waited, workers = await sync.converged(generation.generation, ctx.settings.reload_wait_s)
    return {
        **result,
        "generation": generation.generation,
        "all_workers_swapped": done,
        "swapped_within_s": round(waited, 3) if done else None,
        "swapped_at": dt.datetime.now(dt.UTC).isoformat() if done else None,
        "workers": workers,
    }


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
    async def reload_model(request: Request, key: AdminKey, ctx: Ctx, _: ReadyService) -> JSONResponse:
        """Validate a registry version (promoted; hash, golden predictions) and swap it in atomically; 409
        if refused. Every other worker follows within about ``model_sync_s`` plus one model load: the
        answer waits (``reload_wait_s``) and says whether all live workers serve it, and each one's version."""
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
        if ctx.sync is not None:
            result = await _publish_and_wait(ctx, result, requested_by=key.key_id)
        return JSONResponse(result)

    return router
