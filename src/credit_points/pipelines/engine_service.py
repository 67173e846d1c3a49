"""The decision service behind the API: the engine, its concrete model version, atomic reloads and replay.

The API imports nothing of points, models or policy; it talks to :class:`EngineService` through the
:class:`~credit_points.api.service.DecisionService` protocol. The service holds one immutable
``(engine, resolved version)`` pair and swaps it in a single assignment, so every response names exactly
one model version even while a reload happens. Replay loads the exact version a record pins (by registry
version and artifact hash) from the verified local copy, never the alias.

Only registry versions serve: a bundle folder (version "local") could not be replayed from the audit
store, so the service refuses one at start-up and on reload. A reload also refuses a version that has not
passed the promotion gate (tag ``gate.verdict=passed``) unless the configured alias points at it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from credit_points.config import Settings, get_settings
from credit_points.datasets.record import applicants_to_frame
from credit_points.engine import DecisionEngine
from credit_points.exceptions import DataValidationError, ModelError
from credit_points.pipelines.models import load_engine
from credit_points.records import decide_records, points_section
from credit_points.tracking.registry import ResolvedModel, parse_models_uri

#: the tag ``promote`` sets on a version that passed the promotion gate
GATE_TAG = "gate.verdict"

REPORT_MEDIA_TYPES: dict[str, str] = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
}


@dataclass(frozen=True)
class _Serving:
    engine: DecisionEngine
    resolved: ResolvedModel


class EngineService:
    """:class:`~credit_points.api.service.DecisionService` over the decision engine."""

    #: ``decide`` is pure computation on the loaded engine (milliseconds, no I/O): the API may run it on
    #: its event loop (see ``api.decide.decide_and_record_many``)
    decides_in_process = True

    def __init__(
        self, settings: Settings | None = None, *, model_uri: str | None = None, replay_cache: int = 4
    ) -> None:
        self.settings = settings or get_settings()
        self.model_uri = model_uri or self.settings.model_uri
        self._reload_lock = threading.Lock()
        self._replay_lock = threading.Lock()
        self._replay_engines: OrderedDict[str, DecisionEngine] = OrderedDict()
        self._replay_cache = replay_cache
        _require_registry_uri(self.model_uri)
        engine, resolved = load_engine(self.model_uri, self.settings)
        _require_registered(resolved, self.model_uri)
        self._serving = _Serving(engine, resolved)

    # ---------------------------------------------------------------- protocol
    def ready(self) -> tuple[bool, str]:
        return True, "serving_local_copy" if self._serving.resolved.source == "local-cache" else "serving"

    def identity(self) -> dict[str, str]:
        """Name, concrete version and artifact hash of the model serving now."""
        r = self._serving.resolved
        return {"name": r.name, "version": r.version, "artifact_hash": r.artifact_hash}

    def model_version(self) -> str:
        return self._serving.resolved.version

    def decide(self, applicants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        serving = self._serving  # one read: the whole batch uses one model version
        return self._decide_with(serving.engine, applicants)

    def shadow_parts(self, applicants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What a shadow keeps of each applicant's decision (``audit.shadow.SHADOW_PARTS``: decision,
        grade, PD, product, limit), decided without explanations or a record: the figures :meth:`decide`
        would record, at a fraction of its cost (no TreeSHAP for the ~97% of rows that get reason codes).
        Raises like :meth:`decide` for an applicant whose zone the model does not know."""
        from credit_points.pipelines.shadow import shadow_parts

        return shadow_parts(self._serving.engine, applicants)

    def points(self, applicants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        engine = self._serving.engine
        scored = engine.score_points(applicants_to_frame(applicants, engine.fields))
        points_hash = engine.versions["points"]["hash"]
        names = [str(c) for c in scored.columns.tolist()]
        return [
            {
                "firm_id": applicant.get("firm_id"),
                "as_of_date": applicant.get("as_of_date"),
                **points_section(engine.points_config, points_hash, dict(zip(names, cells, strict=True))),
            }
            for cells, applicant in zip(scored.to_numpy(dtype=object), applicants, strict=True)
        ]

    def model_card(self) -> dict[str, Any]:
        serving = self._serving
        r = serving.resolved
        return {
            "name": r.name,
            "version": r.version,
            "alias": r.alias,
            "run_id": r.run_id,
            "artifact_hash": r.artifact_hash,
            "source": r.source,
            "feature_order_hash": serving.engine.feature_order_hash,
            "configs": serving.engine.versions,
            **{
                k: v
                for k, v in serving.engine.model_card.items()
                if k not in {"configs", "feature_order_hash"}
            },
        }

    def reload(self, model_uri: str | None) -> dict[str, Any]:
        """Load and validate a registry version (hashes and golden predictions in ``load_bundle``; promoted:
        the gate's tag or the configured alias), then swap it in atomically.

        Raises:
            ModelError: the candidate is not a promoted registry version or failed validation; the old
                model keeps serving.
        """
        uri = model_uri or self.model_uri
        _require_registry_uri(uri)
        with self._reload_lock:
            old = self._serving.resolved
            # a reload asks what the registry says now: unreachable means refused (ModelError), and the old
            # model keeps serving; the hashes and golden predictions are checked before the swap
            engine, resolved = _load_candidate(uri, self.settings, allow_cached=False)
            _require_registered(resolved, uri)
            self._require_promoted(resolved)
            self._serving = _Serving(engine, resolved)
        return {"previous": {"version": old.version, "artifact_hash": old.artifact_hash},
                "current": {"version": resolved.version, "artifact_hash": resolved.artifact_hash, "uri": uri}}  # fmt: skip

    def follow(self, name: str, version: str, artifact_hash: str) -> bool:
        """Swap in the exact version another worker published (``api.sync``); False when already serving it.

        The version passed the reload's checks on the worker that published it; here it is loaded (the
        verified local copy when the registry cannot be reached) and must carry the published artifact.

        Raises:
            ModelError: it cannot be loaded or its artifact differs; the old model keeps serving.
        """
        with self._reload_lock:
            current = self._serving.resolved
            if (current.name, current.version, current.artifact_hash) == (name, version, artifact_hash):
                return False
            engine, resolved = _load_candidate(f"models:/{name}/{version}", self.settings, allow_cached=True)
            if resolved.artifact_hash != artifact_hash:
                raise ModelError(
                    f"{name} version {version} has artifact {resolved.artifact_hash[:12]}…, "
                    f"not the published {artifact_hash[:12]}…"
                )
            self._serving = _Serving(engine, resolved)
        return True

    def _require_promoted(self, resolved: ResolvedModel) -> None:
        """A version serves after a reload only if it passed the promotion gate or the configured alias
        (e.g. ``@champion``, moved only by ``promote``) points at it."""
        from mlflow import MlflowClient

        mv = MlflowClient().get_model_version(resolved.name, resolved.version)
        if (mv.tags or {}).get(GATE_TAG) == "passed":
            return
        configured = self.model_uri if self.model_uri.startswith("models:/") else ""
        if configured:
            name, alias, version = parse_models_uri(configured)
            if name == resolved.name and (version == resolved.version or alias in (mv.aliases or [])):
                return
        raise ModelError(
            f"{resolved.name} version {resolved.version} has not passed the promotion gate "
            f"(no {GATE_TAG}=passed tag) and {self.model_uri} does not point at it"
        )

    def render_report(self, record: dict[str, Any], fmt: str, lang: str) -> tuple[bytes, str]:
        """The per-loan report, rendered with the engine of the exact version the record pins."""
        from credit_points.reports.loan import render_report

        if fmt not in REPORT_MEDIA_TYPES:
            raise DataValidationError(
                f"unknown report format; expected one of {list(REPORT_MEDIA_TYPES)}", field="format"
            )
        engine = self._engine_for(record)
        return render_report(record, engine, fmt=fmt, lang=lang), REPORT_MEDIA_TYPES[fmt]

    def override_limits(self, record: dict[str, Any]) -> dict[str, Any]:
        """What an override of a stored decision must respect: its product's cap and rounding unit, from the
        policy of the exact version the record pins (``product`` None when the decision names none)."""
        engine = self._engine_for(record)
        product_id = (record.get("limit") or {}).get("product")
        product = next((p for p in engine.policy.products if p.id == product_id), None)
        if product is None:
            return {"product": None, "cap": 0.0, "rounding_unit": 0.0}
        return {
            "product": product.id,
            "cap": float(product.cap),
            "rounding_unit": float(product.rounding_unit),
        }

    def replay(self, record: dict[str, Any]) -> dict[str, Any]:
        engine = self._engine_for(record)
        inputs = record.get("input")
        if not isinstance(inputs, dict):
            raise DataValidationError("the stored record has no input to replay", field="input")
        return self._decide_with(engine, [inputs])[0]

    # ---------------------------------------------------------------- helpers
    def _decide_with(self, engine: DecisionEngine, applicants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return decide_records(engine, applicants)

    def _engine_for(self, record: dict[str, Any]) -> DecisionEngine:
        """The engine of the exact version and artifact a record pins (current one if it matches)."""
        model = record.get("model") or {}
        version, artifact = str(model.get("version", "")), str(model.get("artifact_hash", ""))
        serving = self._serving
        if serving.resolved.version == version and serving.resolved.artifact_hash == artifact:
            return serving.engine
        with self._replay_lock:
            if artifact in self._replay_engines:
                self._replay_engines.move_to_end(artifact)
                return self._replay_engines[artifact]
        name = model.get("name") or self.settings.registry_model_name
        if not version or version in {"local", "unregistered"}:
            raise ModelError(f"record pins model version {version!r}; cannot load it for replay")
        engine, resolved = load_engine(f"models:/{name}/{version}", self.settings)
        if resolved.artifact_hash != artifact:
            raise ModelError(
                f"{name} version {version} has artifact {resolved.artifact_hash[:12]}…, not the recorded {artifact[:12]}…"
            )
        with self._replay_lock:
            self._replay_engines[artifact] = engine
            while len(self._replay_engines) > self._replay_cache:
                self._replay_engines.popitem(last=False)
        return engine


def _require_registry_uri(uri: str) -> None:
    if not uri.startswith("models:/"):
        # a bundle folder would serve version "local", which the audit store cannot replay
        raise ModelError(
            "only registry versions serve: give models:/NAME@ALIAS or models:/NAME/VERSION, not a folder"
        )


def _require_registered(resolved: ResolvedModel, uri: str) -> None:
    if not resolved.registered:
        raise ModelError(f"{uri} did not resolve to a registry version")


def _load_candidate(
    uri: str, settings: Settings, *, allow_cached: bool
) -> tuple[DecisionEngine, ResolvedModel]:
    try:
        return load_engine(uri, settings, allow_cached=allow_cached)
    except ModelError:
        raise
    except Exception as exc:  # a broken candidate (unreadable file, bad JSON) is refused the same way
        raise ModelError(f"candidate {uri} could not be loaded: {type(exc).__name__}: {exc}") from None


def create_service(settings: Settings | None = None) -> EngineService:
    """Factory the API loads (``CREDIT_POINTS_SERVICE_FACTORY=credit_points.pipelines.engine_service:create_service``)."""
    return EngineService(settings)
