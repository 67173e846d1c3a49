"""The FastAPI application: ``create_app`` wires settings, the audit store, the decision service and routers.

The decision service is loaded once, in the lifespan (from ``service=`` or the factory named by
``CREDIT_POINTS_SERVICE_FACTORY``). ``app_factory`` is what ``credit-points serve`` hands to uvicorn, so
every worker process builds its own app from the environment.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from credit_points.api.batcher import MicroBatcher
from credit_points.api.decide import decide_and_record_many
from credit_points.api.deps import AppContext
from credit_points.api.docs import install_docs
from credit_points.api.errors import install_handlers
from credit_points.api.metrics import ApiMetrics
from credit_points.api.middleware import GuardMiddleware
from credit_points.api.redaction import install_log_redaction
from credit_points.api.routers import admin, decisions, health, model, points
from credit_points.api.schemas import applicant_model
from credit_points.api.service import DecisionService
from credit_points.api.settings import as_api_settings
from credit_points.audit.keys import ApiKeyStore
from credit_points.audit.store import AuditStore
from credit_points.config import Settings
from credit_points.policy.overrides import load_override_policy

DESCRIPTION = """
积分贷决策接口 · Decision API for unsecured innovation-points loans to technology SMEs.

Every decision is written to an append-only, hash-chained audit store **before** it is answered. Send the
API key as `Authorization: Bearer cpk_…` (or `X-API-Key`). Errors share one shape
(`error`, `message`, `correlation_id`, `errors`); 422 answers name fields and never echo values.
"""


def _package_version() -> str:
    try:
        return version("credit-points")
    except PackageNotFoundError:
        return "0+unknown"


def create_app(settings: Settings | None = None, service: DecisionService | None = None) -> FastAPI:
    """Build the API.

    Args:
        settings: deployment settings (read from the environment when ``None``).
        service: the decision service; when ``None`` it is built in the lifespan from
            ``settings.service_factory`` (not ready, with the reason, if that fails).
    """
    install_log_redaction()
    api_settings = as_api_settings(settings)
    store = AuditStore(
        api_settings.audit_db_url,
        table_prefix=api_settings.audit_table_prefix,
        connect_timeout_s=api_settings.audit_timeout_s,
    )
    metrics = ApiMetrics()
    model_cls = applicant_model()
    ctx = AppContext(
        settings=api_settings,
        store=store,
        keys=ApiKeyStore(store, cache_ttl_s=api_settings.api_key_cache_s),
        metrics=metrics,
        applicant_model=model_cls,
        injected_service=service,
        # a broken override policy stops the start, naming the file and key (it is a business config)
        override_policy=load_override_policy(api_settings.override_policy),
    )

    ctx.decision_batcher = MicroBatcher(
        functools.partial(decide_and_record_many, ctx),
        api_settings.micro_batch,
        max_wait_s=api_settings.micro_batch_wait_ms / 1000,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def settle() -> None:
            # the model, configs and libraries loaded at start-up live as long as the process: keep them
            # out of the garbage collector's generations, so its passes under load stay short
            gc.collect()
            gc.freeze()

        ctx.start(then=settle)
        try:
            yield
        finally:
            ctx.close()

    app = FastAPI(
        title="credit-points decision API",
        version=_package_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        # no redirect for a trailing slash: Starlette would build its Location from the Host header
        redirect_slashes=False,
        # /docs and /redoc from local assets (api/docs.py), not a CDN
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    app.state.ctx = ctx
    install_handlers(app)
    app.include_router(decisions.build_router(model_cls, api_settings.max_batch))
    app.include_router(points.build_router(model_cls))
    app.include_router(model.build_router())
    app.include_router(admin.build_router())
    app.include_router(health.build_router())
    app.add_middleware(
        GuardMiddleware,
        max_body_bytes=api_settings.max_body_bytes,
        max_batch_body_bytes=api_settings.max_batch_body_bytes,
        max_concurrency=api_settings.max_concurrency,
        metrics=metrics,
        batcher=ctx.decision_batcher,
        body_timeout_s=api_settings.body_timeout_s,
        max_concurrency_per_key=api_settings.max_concurrency_per_key,
    )
    hosts = [h.strip() for h in api_settings.trusted_hosts.split(",") if h.strip()]
    if hosts and "*" not in hosts:
        # answer only the deployment's own names (nothing builds a URL from Host, but a proxy or a cache
        # in front of the API may)
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)
    return app


def app_factory() -> FastAPI:
    """The app from the environment (``uvicorn --factory credit_points.api.app:app_factory``)."""
    return create_app()
