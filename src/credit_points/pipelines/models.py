"""Resolve a model URI to a verified local bundle and load it as a decision engine."""

from __future__ import annotations

from credit_points.bundle import load_bundle
from credit_points.config import Settings, get_settings
from credit_points.engine import DecisionEngine, ModelIdentity
from credit_points.exceptions import ModelError
from credit_points.tracking.registry import ResolvedModel, fetch_model, latest_cached, parse_models_uri
from credit_points.tracking.setup import point_at_registry


def load_engine(
    model_uri: str, settings: Settings | None = None, *, allow_cached: bool = True
) -> tuple[DecisionEngine, ResolvedModel]:
    """The verified engine for ``model_uri`` (``models:/…`` or a bundle folder) and the concrete version.

    ``models:/`` URIs go through the registry once (download, hash check) and fall back to the newest
    verified local copy when the registry cannot be reached or does not exist (unless ``allow_cached`` is
    off: promotion and ``/admin/reload`` must see what the registry says now). Loading creates no store
    or experiment. Bundle folders are loaded in place. ``load_bundle`` checks the hashes and the golden
    predictions.

    Raises:
        ModelError: no verifiable model (no registry and no local copy, a hash or golden mismatch).
    """
    settings = settings or get_settings()
    if model_uri.startswith("models:/") and not point_at_registry(settings):
        name, alias, version = parse_models_uri(model_uri)
        cached = (
            latest_cached(settings.models_dir / name, alias=alias, version=version) if allow_cached else None
        )
        if cached is None:
            raise ModelError(
                f"no model registry at {settings.mlflow_uri} and no verified local copy of {model_uri}"
            )
        resolved = cached
    else:
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
