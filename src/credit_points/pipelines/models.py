"""Resolve a model URI to a verified local bundle and load it as a decision engine."""

from __future__ import annotations

import contextlib

from credit_points.bundle import load_bundle
from credit_points.config import Settings, get_settings
from credit_points.engine import DecisionEngine, ModelIdentity
from credit_points.tracking.registry import ResolvedModel, fetch_model
from credit_points.tracking.setup import configure_tracking


def load_engine(
    model_uri: str, settings: Settings | None = None, *, allow_cached: bool = True
) -> tuple[DecisionEngine, ResolvedModel]:
    """The engine for ``model_uri`` (``models:/…`` or a bundle folder) and the concrete version it resolved to."""
    settings = settings or get_settings()
    if model_uri.startswith("models:/"):
        # registry unreachable: fetch_model below falls back to the verified local copy
        with contextlib.suppress(Exception):
            configure_tracking(settings)
    resolved = fetch_model(model_uri, settings.models_dir, allow_cached=allow_cached)
    return engine_from_resolved(resolved, settings), resolved


def engine_from_resolved(resolved: ResolvedModel, settings: Settings) -> DecisionEngine:
    """Load a resolved bundle (hashes and golden predictions checked) with the configured LightGBM threads."""
    engine = load_bundle(
        resolved.bundle_dir,
        expected_hash=resolved.artifact_hash,
        identity=ModelIdentity(resolved.name, resolved.version, resolved.artifact_hash, resolved.run_id),
    )
    engine.set_threads(settings.lightgbm_threads)
    return engine
