"""Where runs and models go: the embedded SQLite store by default, any MLflow server by URI, with short timeouts."""

from __future__ import annotations

import os
from pathlib import Path

from credit_points.config import Settings, get_settings

EXPERIMENT_NAME = "credit-points"

# MLflow retries HTTP calls for minutes by default; a bank service must fail fast and fall back to its
# local verified copy instead (RELIABILITY.md: "Models load safely").
_FAST_FAIL_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def configure_tracking(settings: Settings | None = None, *, timeout_s: float | None = None) -> str:
    """Point MLflow at the configured store and create the experiment if needed; return the tracking URI.

    With no ``CREDIT_POINTS_TRACKING_URI`` / ``MLFLOW_TRACKING_URI`` the store is a SQLite file under
    ``<home>/mlruns`` with artifacts beside it: nothing to start.
    """
    import mlflow

    settings = settings or get_settings()
    uri = _tracking_uri(settings, timeout_s)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT_NAME) is None:
        artifact_location = None
        if uri.startswith("sqlite:///"):
            settings.artifact_root.mkdir(parents=True, exist_ok=True)
            artifact_location = settings.artifact_root.resolve().as_uri()
        mlflow.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_location)
    mlflow.set_experiment(EXPERIMENT_NAME)
    return uri


def _tracking_uri(settings: Settings, timeout_s: float | None = None) -> str:
    """The configured tracking URI, with MLflow's HTTP calls set to fail fast (no retries, short timeout)."""
    for key, value in _FAST_FAIL_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault(
        "MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, int(timeout_s or settings.registry_timeout_s)))
    )
    return settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or settings.mlflow_uri


def point_at_registry(settings: Settings | None = None) -> bool:
    """Point MLflow at the registry to read models, creating nothing; False when there is no registry at all.

    Loading a model never creates experiments or stores: a SQLite registry file that does not exist is a
    missing registry (MLflow would silently create an empty one). No network call is made here; later
    calls fail in seconds (no retries, ``registry_timeout_s``) so a verified local copy can serve instead.
    """
    import mlflow

    settings = settings or get_settings()
    uri = _tracking_uri(settings)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return False
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return True
