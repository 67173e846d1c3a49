"""Innovation points alone: stage, totals, categories, indicators and ranks for one applicant (no decision stored)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from credit_points.api.deps import ReadyService, WriteKey
from credit_points.api.errors import request_id_of
from credit_points.api.routers._body import (
    BODY_RESPONSES,
    ERROR_RESPONSES,
    applicant_openapi,
    read_json,
    validate,
)
from credit_points.api.schemas import applicant_example
from credit_points.exceptions import ModelError


def build_router(applicant_model: type[BaseModel]) -> APIRouter:
    """The points router for an applicant model."""
    router = APIRouter(prefix="/v1", tags=["points"], responses=ERROR_RESPONSES)

    @router.post(
        "/points",
        summary="创新积分 / Innovation points only",
        responses=BODY_RESPONSES,
        openapi_extra=applicant_openapi(applicant_model.model_json_schema(), applicant_example()),
    )
    async def score_points(request: Request, key: WriteKey, service: ReadyService) -> JSONResponse:
        """The applicant's innovation points (同级比较 within its growth stage). Nothing is stored."""
        applicant = validate(applicant_model, await read_json(request)).model_dump(mode="json")
        results = await run_in_threadpool(service.points, [applicant])
        if not isinstance(results, list) or len(results) != 1 or not isinstance(results[0], dict):
            raise ModelError("the decision service returned no points record")
        return JSONResponse({**results[0], "request_id": request_id_of(request)})

    return router
