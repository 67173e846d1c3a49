"""Request dependencies (``Annotated``): the app context, the caller's key and scope, a ready service.

Authentication runs before anything else a route does: routes read their body themselves, after these
dependencies, so a request without a valid key or scope is refused before its body is even parsed and
creates nothing.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from credit_points.api.batcher import MicroBatcher
from credit_points.api.errors import ApiError
from credit_points.api.metrics import ApiMetrics
from credit_points.api.service import DecisionService, UnavailableService, load_service
from credit_points.api.settings import ApiSettings
from credit_points.audit.keys import ApiKey, ApiKeyStore
from credit_points.audit.store import AuditStore
from credit_points.exceptions import AuditError

logger = logging.getLogger("credit_points.api")


@dataclass
class AppContext:
    """Everything a request needs, built once per process in the app's lifespan."""

    settings: ApiSettings
    store: AuditStore
    keys: ApiKeyStore
    metrics: ApiMetrics
    applicant_model: type[BaseModel]
    service: DecisionService = field(default_factory=lambda: UnavailableService("starting", "loading"))
    injected_service: DecisionService | None = None
    store_error: str | None = None
    decision_batcher: MicroBatcher[Any, Any] | None = None
    shadow: Any = None  # api.shadow.ShadowRunner when CREDIT_POINTS_SHADOW_MODEL_URI is set
    sync: Any = None  # api.sync.ModelSync when the service can follow a published model (the engine's)
    override_policy: Any = None  # policy.overrides.OverridePolicy, loaded with the app
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _opener: threading.Thread | None = None
    #: when the audit store last refused a write (monotonic seconds); readiness holds 503 for a while after
    store_failed_at: float | None = None

    def open(self) -> None:
        """Create the audit schema if needed and load the decision service (once), in this thread."""
        try:
            self.store.create_schema()
            self.store_error = None
        except AuditError as exc:
            self.store_error = str(exc)
        if self.injected_service is not None:
            service = self.injected_service
        else:
            service = load_service(self.settings, self.settings.service_factory)
            if isinstance(service, UnavailableService):
                logger.error("decision service unavailable (%s): %s", service.code, service.reason)
        if callable(getattr(service, "follow", None)) and callable(getattr(service, "identity", None)):
            from credit_points.api.sync import ModelSync

            # every worker serves the newest published generation (a reload in one reaches all)
            self.sync = ModelSync(self.store, self.settings, service, self.note_store_failure)
            self.sync.start()
        self.service = service
        if self.settings.shadow_model_uri:
            from credit_points.api.shadow import ShadowRunner

            self.shadow = ShadowRunner(self.settings, self.store, self.metrics)
            self.shadow.start()

    def start(self, then: Callable[[], None] | None = None) -> None:
        """Open in the background: liveness answers at once, readiness says ``loading`` until the model
        is there (a registry that never answers must not keep ``/livez`` silent). An injected service
        (tests, embedding) opens at once."""

        def run() -> None:
            self.open()
            if then is not None:
                then()

        if self.injected_service is not None:
            run()
            return
        self._opener = threading.Thread(target=run, name="credit-points-open", daemon=True)
        self._opener.start()

    def note_store_failure(self) -> None:
        """The audit store refused a write (a decision's or the heartbeat's): readiness turns 503 for
        ``audit_failure_hold_s`` seconds, so a balancer stops sending decisions that cannot be stored."""
        self.store_failed_at = time.monotonic()

    def store_failing(self) -> bool:
        """Whether the store refused a write within the last ``audit_failure_hold_s`` seconds."""
        failed = self.store_failed_at
        return failed is not None and time.monotonic() - failed < self.settings.audit_failure_hold_s

    def shadow_decide(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Hand new decisions (id, applicant) to the shadow challenger, if one is configured (never blocks)."""
        if self.shadow is not None and items:
            self.shadow.submit(items)

    def close(self) -> None:
        if self.sync is not None:
            self.sync.stop()
        if self.shadow is not None:
            self.shadow.stop()
        self.store.dispose()


def get_ctx(request: Request) -> AppContext:
    """The app's context."""
    return request.app.state.ctx  # type: ignore[no-any-return]


Ctx = Annotated[AppContext, Depends(get_ctx)]

_bearer = HTTPBearer(
    auto_error=False, description="API key as a bearer token: `Authorization: Bearer cpk_…`."
)
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key in the `X-API-Key` header.")


async def authenticate(
    ctx: Ctx,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header_key: Annotated[str | None, Security(_header)],
) -> ApiKey:
    """The caller's active key; 401 without one, with a bad one or with a revoked one.

    A key accepted within the last ``api_key_cache_s`` seconds is answered from memory on the event loop;
    otherwise the database is asked in a worker thread.
    """
    plaintext = bearer.credentials if bearer is not None else header_key
    if not plaintext:
        raise ApiError(
            401, "unauthenticated", "an API key is required", headers={"WWW-Authenticate": "Bearer"}
        )
    key = ctx.keys.cached(plaintext) or await run_in_threadpool(ctx.keys.authenticate, plaintext)
    if key is None:
        raise ApiError(
            401, "unauthenticated", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"}
        )
    return key


def require(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency admitting keys that hold ``scope`` (403 otherwise)."""

    async def dependency(key: Annotated[ApiKey, Depends(authenticate)]) -> ApiKey:
        if scope not in key.scopes:
            raise ApiError(403, "forbidden", f"the API key lacks the scope {scope!r}")
        return key

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


WriteKey = Annotated[ApiKey, Depends(require("decision:write"))]
ReadKey = Annotated[ApiKey, Depends(require("decision:read"))]
ReportKey = Annotated[ApiKey, Depends(require("report:read"))]
OverrideKey = Annotated[ApiKey, Depends(require("decision:override"))]
ApproveKey = Annotated[ApiKey, Depends(require("decision:approve"))]
AdminKey = Annotated[ApiKey, Depends(require("admin"))]


_CODE = re.compile(r"[a-z][a-z_]{0,39}")


def service_readiness(service: DecisionService) -> tuple[bool, str]:
    """``service.ready()`` as (ok, reason code): prose (which may name paths, settings or hashes) is logged
    and answered as a generic code, since readiness and 503s are shown to anyone."""
    try:
        ok, reason = service.ready()
    except Exception:  # noqa: BLE001 - a broken service is not ready
        logger.exception("the decision service's readiness check failed")
        return False, "service_error"
    if not _CODE.fullmatch(str(reason)):
        logger.warning("readiness: the decision service says %s", reason)
        reason = "serving" if ok else "model_unavailable"
    return bool(ok), str(reason)


async def ready_service(ctx: Ctx) -> DecisionService:
    """The decision service if it is ready; 503 with its reason code otherwise."""
    ok, reason = service_readiness(ctx.service)
    if not ok:
        raise ApiError(503, "not_ready", f"not ready: {reason}", headers={"Retry-After": "5"})
    return ctx.service


ReadyService = Annotated[DecisionService, Depends(ready_service)]
