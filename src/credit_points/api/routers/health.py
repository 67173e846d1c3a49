"""Liveness, readiness and metrics: unauthenticated, never refused by the overload guard, no request data."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from credit_points.api.deps import AppContext, Ctx, service_readiness
from credit_points.api.metrics import CONTENT_TYPE
from credit_points.api.schemas import ReadyOut
from credit_points.exceptions import AuditError

logger = logging.getLogger("credit_points.api")


def readiness(ctx: AppContext) -> tuple[bool, list[dict[str, object]]]:
    """Every readiness check: the decision service (validated model + configs) and a writable audit store.

    Each check carries a reason code only (see ``api.service.REASONS`` and ``STORE_REASONS``): the
    endpoint is unauthenticated, so paths, settings and hashes go to the log, never into the answer.
    """
    checks: list[dict[str, object]] = []
    ok, reason = service_readiness(ctx.service)
    checks.append({"component": "model", "ok": ok, "reason": reason})
    store_ok, store_reason = store_readiness(ctx)
    checks.append({"component": "audit_store", "ok": store_ok, "reason": store_reason})
    return all(c["ok"] for c in checks), checks


#: what the audit-store check answers
STORE_REASONS = {
    "writable": "the store takes writes",
    "unavailable": "the store cannot be reached or is read-only",
    "disk_full": "the SQLite database's filesystem has less free space than audit_min_free_mb",
    "write_failed": "the store refused a write within the last audit_failure_hold_s seconds",
}


def store_readiness(ctx: AppContext) -> tuple[bool, str]:
    """Whether the audit store takes writes now: it answers and may be written, has room, and has not
    refused a write (a decision's, or the worker's heartbeat) in the last ``audit_failure_hold_s``."""
    try:
        ctx.store.ping(write=True)
    except AuditError as exc:
        logger.warning("readiness: audit store unavailable: %s", exc)
        return False, "unavailable"
    free = ctx.store.free_bytes()
    if free is not None and free < ctx.settings.audit_min_free_mb * 1024 * 1024:
        logger.warning("readiness: %d bytes free beside the audit database", free)
        return False, "disk_full"
    if ctx.store_failing():
        return False, "write_failed"
    return True, "writable"


def build_router() -> APIRouter:
    """The health router."""
    router = APIRouter(tags=["health"])

    @router.get("/livez", summary="存活 / Liveness")
    async def livez() -> dict[str, str]:
        """The process is up (says nothing about the model or the audit store)."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="就绪 / Readiness",
        response_model=ReadyOut,
        responses={503: {"model": ReadyOut, "description": "Not ready; `checks` says why."}},
    )
    async def readyz(ctx: Ctx) -> JSONResponse:
        """200 when a validated model, the configs and a writable audit store are present; else 503 with reasons."""
        ok, checks = await run_in_threadpool(readiness, ctx)
        body = {
            "status": "ready" if ok else "not_ready",
            "checks": checks,
            "model_version": ctx.service.model_version() if ok else None,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics(ctx: Ctx) -> Response:
        """Prometheus exposition text."""
        return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)

    return router
