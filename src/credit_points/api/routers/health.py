"""Liveness, readiness and metrics: unauthenticated, never refused by the overload guard, no request data."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from credit_points.api.deps import AppContext, Ctx
from credit_points.api.metrics import CONTENT_TYPE
from credit_points.api.schemas import ReadyOut
from credit_points.exceptions import AuditError


def readiness(ctx: AppContext) -> tuple[bool, list[dict[str, object]]]:
    """Every readiness check: the decision service (validated model + configs) and a writable audit store."""
    checks: list[dict[str, object]] = []
    try:
        ok, detail = ctx.service.ready()
    except Exception as exc:  # noqa: BLE001 - a broken service is not ready, with the reason
        ok, detail = False, f"ready() failed: {type(exc).__name__}"
    checks.append({"component": "model", "ok": bool(ok), "detail": str(detail)})
    try:
        ctx.store.ping(write=True)
        checks.append({"component": "audit_store", "ok": True, "detail": "writable"})
    except AuditError as exc:
        checks.append({"component": "audit_store", "ok": False, "detail": str(exc)})
    return all(c["ok"] for c in checks), checks


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
