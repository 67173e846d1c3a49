"""Verified local copies of registry versions follow the registry they came from.

Two real MLflow stores each hold a "version 1" of the same model name with different bundles (a team that
moved from the embedded store to a tracking server; or a fresh store after ``make clean`` and a retrain).
One ``models/`` folder serves both in turn: the stale copy is replaced by a fresh, verified download, the
offline fallback still serves the newest verified copy, and a copy that no longer verifies is healed from
the registry.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from credit_points.bundle import golden_frame, save_bundle
from credit_points.config import Settings
from credit_points.pipelines.models import load_engine
from credit_points.tracking.registry import register_bundle

pytestmark = pytest.mark.slow

NAME = "credit-points-copies"


def _registry_with_version_1(trained_model, root: Path, note: str) -> tuple[str, str]:
    """A fresh SQLite store at ``root`` whose version 1 is the trained engine with ``note`` in its card."""
    uri = f"sqlite:///{root / 'mlflow.db'}"
    root.mkdir(parents=True)
    engine = trained_model.engine
    golden = golden_frame(engine, trained_model.applicants, n=10, seed=1)
    artifact = save_bundle(
        engine, root / "bundle", golden_inputs=golden, model_card={**engine.model_card, "note": note}
    )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment("copies")
    with mlflow.start_run() as run:
        version = register_bundle(root / "bundle", name=NAME, artifact_hash=artifact, run_id=run.info.run_id)
    assert version == "1"
    return uri, artifact


def test_a_copy_of_another_registrys_version_1_is_replaced_by_a_verified_download(
    trained_model, tmp_path: Path
) -> None:
    embedded_uri, embedded_hash = _registry_with_version_1(trained_model, tmp_path / "embedded", "embedded")
    server_uri, server_hash = _registry_with_version_1(trained_model, tmp_path / "server", "server")
    assert embedded_hash != server_hash
    home = tmp_path / "home"
    uri = f"models:/{NAME}@champion"
    for tracking in (embedded_uri, server_uri):
        mlflow.MlflowClient(tracking_uri=tracking, registry_uri=tracking).set_registered_model_alias(
            NAME, "champion", "1"
        )

    # given the verified copy of the embedded store's version 1
    _, first = load_engine(uri, Settings(home=home, tracking_uri=embedded_uri))
    assert (first.version, first.artifact_hash, first.source) == ("1", embedded_hash, "registry")

    # when the team's tracking server (its own version 1) is the registry now
    _, moved = load_engine(uri, Settings(home=home, tracking_uri=server_uri))
    # then its version 1 is downloaded afresh and verified, not refused for the stale copy's hash
    assert (moved.version, moved.artifact_hash, moved.source) == ("1", server_hash, "registry")
    resolved = json.loads((home / "models" / NAME / "1" / "resolved.json").read_text())
    assert resolved["artifact_hash"] == server_hash

    # and with the registry unreachable, the newest verified copy still serves
    down = Settings(home=home, tracking_uri="http://127.0.0.1:9", registry_timeout_s=2)
    _, offline = load_engine(uri, down)
    assert (offline.artifact_hash, offline.source) == (server_hash, "local-cache")

    # given the copy damaged on disk, when the registry answers again, then it is healed from the registry
    policy = Path(moved.bundle_dir) / "policy.json"
    policy.write_text(policy.read_text().replace('"version"', '"version_"', 1))
    _, healed = load_engine(uri, Settings(home=home, tracking_uri=server_uri))
    assert (healed.artifact_hash, healed.source) == (server_hash, "registry")
