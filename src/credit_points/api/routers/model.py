"""The model card of the model serving now."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from credit_points.api.deps import Ctx, ReadKey, ReadyService
from credit_points.api.routers._body import ERROR_RESPONSES


def build_router() -> APIRouter:
    """The model router."""
    router = APIRouter(prefix="/v1", tags=["model"], responses=ERROR_RESPONSES)

    @router.get("/model", summary="模型卡 / Model card")
    async def model_card(ctx: Ctx, key: ReadKey, service: ReadyService) -> JSONResponse:
        """Name, concrete version, artifact hash, config versions and hashes, training and OOT windows,
        validation figures; the shadow challenger, when one runs (its URI, state and version); and every live
        worker with the model generation and version it serves."""
        card = await run_in_threadpool(service.model_card)
        if ctx.shadow is not None:
            card = {**card, "shadow": ctx.shadow.status()}
        if ctx.sync is not None:
            # every live worker and the version it serves (a reload is done when they all agree)
            workers = await run_in_threadpool(ctx.sync.workers)
            card = {**card, "generation": ctx.sync.generation, "workers": workers}
        return JSONResponse(card, headers={"X-Model-Version": service.model_version()})

    return router
