"""Fault injection on a real server: audit store unavailable, registry unreachable with and without a local copy."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from credit_points.audit.keys import ApiKeyStore
from credit_points.audit.store import AuditStore
from credit_points.datasets.record import example_applicant

from .conftest import server_env, start_server, wait_ready

pytestmark = pytest.mark.slow

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: connection refused at once


def _store_with_key(path: Path) -> tuple[AuditStore, str]:
    store = AuditStore(f"sqlite:///{path}")
    store.create_schema()
    _, key = ApiKeyStore(store).create("faults", ["decision:write", "decision:read"])
    return store, key


def _settled_readiness(server, timeout_s: float = 60) -> httpx.Response:
    """``/readyz`` once the model has finished loading (the model loads after the server answers)."""
    deadline = time.monotonic() + timeout_s
    while True:
        ready = httpx.get(f"{server.base}/readyz", timeout=10)
        model = next(c for c in ready.json()["checks"] if c["component"] == "model")
        if model["reason"] != "loading" or time.monotonic() > deadline:
            return ready
        time.sleep(0.1)


def test_audit_store_unavailable_gives_503_without_pd_or_limit_and_no_row(trained_model, tmp_path) -> None:
    # given a server whose audit store can be read (keys) but not written
    db = tmp_path / "audit.db"
    store, key = _store_with_key(db)
    env = server_env(trained_model, f"sqlite:///file:{db}?mode=ro&uri=true")
    server = start_server(tmp_path / "ro", env, key=False)
    try:
        ready = _settled_readiness(server)
        # then not ready, and the reason names the audit store
        assert ready.status_code == 503
        checks = {c["component"]: c for c in ready.json()["checks"]}
        assert checks["audit_store"]["ok"] is False and checks["model"]["ok"] is True
        # when a decision is asked for
        response = httpx.post(
            f"{server.base}/v1/decisions",
            json=example_applicant(),
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        # then 503 audit_unavailable, no PD and no limit in the body, and no row anywhere
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "audit_unavailable"
        assert "Retry-After" in response.headers
        for word in ("prob_default", "limit", "decision_id", "record"):
            assert word not in response.json()
        assert store.count() == 0
        assert store.verify().ok
    finally:
        server.stop()
        store.dispose()


def test_registry_unreachable_at_start_serves_the_verified_local_copy(trained_model, tmp_path) -> None:
    # given the trained home (which holds a verified copy of the version) and an unreachable registry
    db = tmp_path / "audit.db"
    store, key = _store_with_key(db)
    env = server_env(
        trained_model,
        f"sqlite:///{db}",
        CREDIT_POINTS_TRACKING_URI=UNREACHABLE,
        CREDIT_POINTS_REGISTRY_TIMEOUT_S="2",
    )
    # when the server starts
    server = start_server(tmp_path / "down", env, key=False)
    try:
        # then it becomes ready from the local copy (a bounded wait: MLflow's default retries take minutes)
        ready = wait_ready(server, timeout_s=45)
        assert ready.status_code == 200, ready.text
        reason = next(c["reason"] for c in ready.json()["checks"] if c["component"] == "model")
        assert reason == "serving_local_copy"
        assert ready.json()["model_version"] == trained_model.version
        # and it decides with the pinned version and artifact
        response = httpx.post(
            f"{server.base}/v1/decisions",
            json=example_applicant(),
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        model = response.json()["record"]["model"]
        assert (model["version"], model["artifact_hash"]) == (
            trained_model.version,
            trained_model.artifact_hash,
        )
        assert store.count() == 1
    finally:
        server.stop()
        store.dispose()


def test_registry_unreachable_and_no_local_copy_is_not_ready_with_a_reason(trained_model, tmp_path) -> None:
    # given an empty home and an unreachable registry
    db = tmp_path / "audit.db"
    store, key = _store_with_key(db)
    env = server_env(
        trained_model,
        f"sqlite:///{db}",
        CREDIT_POINTS_HOME=str(tmp_path / "empty-home"),
        CREDIT_POINTS_TRACKING_URI=UNREACHABLE,
        CREDIT_POINTS_REGISTRY_TIMEOUT_S="2",
    )
    server = start_server(tmp_path / "nocopy", env, key=False)
    try:
        # when readiness is asked (once the service has finished trying, bounded)
        ready = _settled_readiness(server, timeout_s=45)
        model = next(c for c in ready.json()["checks"] if c["component"] == "model")
        # then 503 with a machine-readable check naming the model and why
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready" and ready.json()["model_version"] is None
        assert model["ok"] is False
        assert model["reason"] == "model_unavailable"
        # and why goes to the log, not into the unauthenticated answer
        assert "no verified local copy" in server.log_text() and "models:/" not in ready.text
        # and decisions are refused without a row; liveness is unaffected
        response = httpx.post(
            f"{server.base}/v1/decisions",
            json=example_applicant(),
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 503 and response.json()["error"] == "not_ready"
        assert httpx.get(f"{server.base}/livez", timeout=5).status_code == 200
        assert store.count() == 0
    finally:
        server.stop()
        store.dispose()


def test_liveness_answers_at_once_while_a_silent_registry_holds_up_the_model(trained_model, tmp_path) -> None:
    # given a tracking server that accepts connections and never answers (a listening socket nobody serves)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    db = tmp_path / "audit.db"
    store, key = _store_with_key(db)
    env = server_env(
        trained_model,
        f"sqlite:///{db}",
        CREDIT_POINTS_HOME=str(tmp_path / "empty-home"),
        CREDIT_POINTS_TRACKING_URI=f"http://127.0.0.1:{silent.getsockname()[1]}",
        CREDIT_POINTS_REGISTRY_TIMEOUT_S="60",
    )
    # when the server starts (start_server returns at the first /livez 200)
    server = start_server(tmp_path / "silent", env, key=False)
    try:
        # then liveness answered while the model is still loading (the registry holds it for 60 s)
        ready = httpx.get(f"{server.base}/readyz", timeout=10)
        assert ready.status_code == 503
        model = next(c for c in ready.json()["checks"] if c["component"] == "model")
        assert model == {"component": "model", "ok": False, "reason": "loading"}
        # and a decision is refused without a row
        response = httpx.post(
            f"{server.base}/v1/decisions",
            json=example_applicant(),
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 503 and response.json()["error"] == "not_ready"
        assert store.count() == 0
    finally:
        server.stop()
        store.dispose()
        silent.close()
