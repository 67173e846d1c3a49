"""The decision service the API serves: the narrow interface between the HTTP layer and the engine.

The API knows nothing of points, models or policy. It validates applicants at the door, hands them to a
:class:`DecisionService` as JSON-safe dicts (dates as ISO ``YYYY-MM-DD`` strings, ``None`` for missing
optional values), stores what comes back in the audit store, and answers. The engine side implements the
protocol over the decision engine and the model bundle; the API loads it once at start-up from a factory
named ``"module:callable"`` (``CREDIT_POINTS_SERVICE_FACTORY``), called with the settings.

Decision records must be JSON objects (no NaN/Infinity) carrying the keys the audit store indexes (see
``docs/audit.md``): ``input_sha256``, ``points.config_version``, ``points.config_hash``, ``model.name``,
``model.version``, ``model.artifact_hash``, ``model.feature_order_hash``, ``risk.prob_default``,
``limit.limit``, ``decision``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from credit_points.config import Settings
from credit_points.exceptions import ConfigError, ModelError


@runtime_checkable
class DecisionService(Protocol):
    """What the API needs from the decision engine.

    Every method may be called from several threads at once and must give the same answer as a
    sequential call. Methods raise :class:`~credit_points.exceptions.DataValidationError` (naming the
    field, answered 422) for input the engine refuses and :class:`~credit_points.exceptions.ModelError`
    (answered 503) when no usable model is loaded.
    """

    # Optional attribute ``decides_in_process = True``: ``decide`` is pure computation of a few
    # milliseconds (no I/O, no waiting), so the API may call it on its event loop instead of in a thread.

    def ready(self) -> tuple[bool, str]:
        """``(True, code)`` when a validated model and the configs are loaded; else ``(False, code)``.

        The code is a short machine-readable word (see :data:`REASONS`), never a path, setting or hash:
        ``/readyz`` answers it to anyone. Called on every decision request and by ``/readyz``: keep it
        cheap (no I/O).
        """
        ...

    def decide(self, applicants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One decision record per applicant, in order (a batch of one for a single request)."""
        ...

    def points(self, applicants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The innovation points alone (stage, totals, categories, indicators, ranks), one per applicant."""
        ...

    def model_card(self) -> dict[str, Any]:
        """Name, concrete version, artifact hash, config versions and hashes, windows, validation figures."""
        ...

    def model_version(self) -> str:
        """The concrete model version serving now (never only an alias)."""
        ...

    def reload(self, model_uri: str | None) -> dict[str, Any]:
        """Load, validate (hash, golden predictions) and atomically swap in a model; the default URI if ``None``.

        Raises:
            ModelError: the candidate failed validation; the old model keeps serving.
        """
        ...

    def render_report(self, record: dict[str, Any], fmt: str, lang: str) -> tuple[bytes, str]:
        """The per-loan report of a stored decision as ``(content, media type)``.

        ``record`` is the stored decision record plus an ``audit`` key (decision id, time, row hash,
        overrides). ``fmt`` is ``html``, ``pdf`` or ``json``; ``lang`` is ``zh`` or ``en``.
        """
        ...

    def replay(self, record: dict[str, Any]) -> dict[str, Any]:
        """Decide again from a stored record's input with the artifacts it pins; returns the new record."""
        ...


ServiceFactory = Callable[[Settings], DecisionService]

#: factory names of earlier releases that name a module since renamed, and what they mean now (a deployed
#: ``CREDIT_POINTS_SERVICE_FACTORY`` keeps working across the upgrade)
RENAMED_FACTORIES: dict[str, str] = {
    "credit_points.pipelines.service:create_service": "credit_points.pipelines.engine_service:create_service",
}


#: the reason codes readiness answers with (``/readyz`` and every 503 carry the code; details go to the log)
REASONS: dict[str, str] = {
    "serving": "a validated registry version is serving",
    "serving_local_copy": "the registry was unreachable; the verified local copy of the version is serving",
    "loading": "the model is still loading",
    "no_service_configured": "no decision service is configured",
    "service_factory_failed": "the decision service could not be built",
    "model_unavailable": "no validated registry version could be loaded",
}


class UnavailableService:
    """Stands in when no decision service could be loaded: not ready, with a reason code; decides nothing.

    ``/livez`` still answers, ``/readyz`` reports the code (the detail goes to the log only: it may name
    paths, settings and hashes), and every decision endpoint answers 503.
    """

    def __init__(self, reason: str, code: str = "model_unavailable") -> None:
        self.reason = reason
        self.code = code

    def ready(self) -> tuple[bool, str]:
        return False, self.code

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise ModelError(f"no decision service: {self.reason}")

    decide = points = model_card = reload = render_report = replay = _refuse

    def model_version(self) -> str:
        return "none"


def import_factory(target: str) -> ServiceFactory:
    """The callable named by ``"package.module:callable"`` (a name in :data:`RENAMED_FACTORIES` is followed).

    Raises:
        ConfigError: the name is malformed or cannot be imported.
    """
    target = RENAMED_FACTORIES.get(target, target)
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError("must look like 'package.module:callable'", location="service_factory")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"cannot import {target!r} ({type(exc).__name__}: {exc})", location="service_factory"
        ) from None
    if not callable(obj):
        raise ConfigError(f"{target!r} is not callable", location="service_factory")
    return obj  # type: ignore[no-any-return]


def load_service(settings: Settings, factory: str | None) -> DecisionService:
    """Build the decision service from a factory name; an :class:`UnavailableService` with the reason on failure.

    Start-up must not crash on a missing model (``/livez`` and ``/readyz`` must still answer), so every
    failure is turned into a not-ready service whose reason ``/readyz`` reports.
    """
    if not factory:
        return UnavailableService(
            "no decision service configured (set CREDIT_POINTS_SERVICE_FACTORY)", "no_service_configured"
        )
    try:
        service = import_factory(factory)(settings)
    except ModelError as exc:
        return UnavailableService(
            f"no validated model (CREDIT_POINTS_SERVICE_FACTORY={factory}): {exc}", "model_unavailable"
        )
    except Exception as exc:  # noqa: BLE001 - reported through /readyz, never a crash loop
        return UnavailableService(
            f"service factory failed (CREDIT_POINTS_SERVICE_FACTORY={factory}): {type(exc).__name__}: {exc}",
            "service_factory_failed",
        )
    if not isinstance(service, DecisionService):
        return UnavailableService(f"{factory} did not return a DecisionService", "service_factory_failed")
    return service
