"""The service under operations, over real sockets: ``credit-points serve --workers 2`` on the trained model.

A reload reaches both workers within seconds and ``GET /v1/model`` shows each one's version; a folder or
an unpromoted version is refused before any swap; clients that stall their bodies lose their slots while
another key keeps being decided; no redirect is built from the Host header; readiness answers reason codes
only and follows a full filesystem under the SQLite audit store (a real tmpfs, filled and emptied).

The tests run in order on one server (make test runs each file on one xdist worker).
"""

from __future__ import annotations

import errno
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from credit_points.audit.serving import ServingStore
from credit_points.audit.store import AuditStore

from .conftest import Server, server_env, start_server, wait_ready

pytestmark = pytest.mark.slow

BODY_TIMEOUT_S = 2.0
PER_KEY = 32  # the default share of one key (max_concurrency_per_key), per worker


@pytest.fixture(scope="module")
def audit_dir(module_dir: Path) -> Iterator[tuple[Path, bool]]:
    """A small tmpfs for the audit database when this machine lets us mount one (else a plain folder)."""
    folder = module_dir / "audit-fs"
    folder.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(folder)], capture_output=True, check=False
        ).returncode
        == 0
    )
    yield folder, mounted
    if mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


@pytest.fixture(scope="module")
def ops(trained_model: Any, module_dir: Path, audit_dir: tuple[Path, bool]) -> Iterator[Server]:
    folder, _ = audit_dir
    env = server_env(
        trained_model,
        f"sqlite:///{folder / 'audit.db'}",
        CREDIT_POINTS_MODEL_URI=f"models:/credit-points/{trained_model.version}",
        CREDIT_POINTS_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
        CREDIT_POINTS_TRUSTED_HOSTS="127.0.0.1,localhost",
        CREDIT_POINTS_AUDIT_FAILURE_HOLD_S="2",
    )
    server = start_server(module_dir / "server", env, workers=2)
    try:
        ready = wait_ready(server)
        assert ready.status_code == 200, ready.text
        # readiness is per worker: wait until both serve (a request may reach either)
        assert len(_wait_for_workers(server, 2)["workers"]) == 2
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def second_version(trained_model: Any) -> str:
    """The trained bundle registered again: a second version of the model (same artifact, new number)."""
    import mlflow

    from credit_points.tracking.registry import fetch_model, register_bundle

    resolved = fetch_model(f"models:/credit-points/{trained_model.version}", trained_model.home / "models")
    mlflow.set_tracking_uri(trained_model.tracking_uri)
    mlflow.set_registry_uri(trained_model.tracking_uri)
    mlflow.set_experiment("operations")
    with mlflow.start_run() as run:
        version = register_bundle(
            resolved.bundle_dir,
            name="credit-points",
            artifact_hash=resolved.artifact_hash,
            run_id=run.info.run_id,
        )
    assert version != trained_model.version
    return version


def _decide(server: Server, applicant: dict[str, Any], key: str | None = None) -> httpx.Response:
    """One decision on a fresh connection (so the kernel may hand it to either worker)."""
    headers = {"Authorization": f"Bearer {key or server.key}"}
    return httpx.post(f"{server.base}/v1/decisions", json=applicant, headers=headers, timeout=60)


def _card(server: Server) -> dict[str, Any]:
    answer = httpx.get(f"{server.base}/v1/model", headers=server.headers(), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _wait_for_workers(server: Server, n: int, timeout_s: float = 60) -> dict[str, Any]:
    """The model card once ``n`` workers serve (a worker still loading answers 503: asked again)."""
    deadline = time.monotonic() + timeout_s
    card: dict[str, Any] = {"workers": []}
    while time.monotonic() < deadline:
        answer = httpx.get(f"{server.base}/v1/model", headers=server.headers(), timeout=30)
        if answer.status_code == 200:
            card = answer.json()
            if len(card["workers"]) == n and all(w["state"] == "serving" for w in card["workers"]):
                break
        time.sleep(0.2)
    return card


def _key(server: Server, name: str, scopes: str = "decision:write") -> str:
    created = server.cli("apikey", "create", "--name", name, "--scopes", scopes)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def test_a_folder_or_an_unpromoted_version_is_refused_before_any_swap(
    ops: Server, trained_model: Any, second_version: str, tmp_path: Path, applicants: list[dict[str, Any]]
) -> None:
    from credit_points.tracking.registry import fetch_model

    resolved = fetch_model(f"models:/credit-points/{trained_model.version}", trained_model.home / "models")
    for uri, why in (
        (resolved.bundle_dir, "only registry versions serve"),  # a verified bundle, but no registry version
        (f"models:/credit-points/{second_version}", "has not passed the promotion gate"),
    ):
        refused = httpx.post(
            f"{ops.base}/admin/reload", json={"model_uri": uri}, headers=ops.headers(), timeout=120
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "reload_refused" and why in refused.json()["message"]
    assert {_decide(ops, applicants[0]).json()["model_version"] for _ in range(8)} == {trained_model.version}


def test_a_reload_reaches_every_worker_within_five_seconds(
    ops: Server, trained_model: Any, second_version: str, applicants: list[dict[str, Any]]
) -> None:
    from mlflow import MlflowClient

    # given both workers serving the trained version
    card = _wait_for_workers(ops, 2)
    assert len(card["workers"]) == 2, card["workers"]
    assert {w["model_version"] for w in card["workers"]} == {trained_model.version}
    # and a second version that passed the promotion gate (the tag promote sets)
    client = MlflowClient(tracking_uri=trained_model.tracking_uri, registry_uri=trained_model.tracking_uri)
    client.set_model_version_tag("credit-points", second_version, "gate.verdict", "passed")
    # when one worker is asked to reload it
    answer = httpx.post(
        f"{ops.base}/admin/reload",
        json={"model_uri": f"models:/credit-points/{second_version}"},
        headers=ops.headers(),
        timeout=120,
    )
    # then the answer comes once every worker serves it, within five seconds of the swap
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["all_workers_swapped"] is True and body["swapped_within_s"] <= 5.0, body
    assert len(body["workers"]) == 2
    assert {(w["model_version"], w["generation"]) for w in body["workers"]} == {
        (second_version, body["generation"])
    }
    # and every later decision, whichever worker takes it, names the new version
    assert {_decide(ops, applicants[i % 8]).json()["model_version"] for i in range(16)} == {second_version}
    card = _card(ops)
    assert card["version"] == second_version and card["generation"] == body["generation"]
    assert {w["model_version"] for w in card["workers"]} == {second_version}
    # and the audit database says who moved the model, to what
    store = AuditStore(ops.audit_url)
    try:
        latest = ServingStore(store).latest()
    finally:
        store.dispose()
    assert latest is not None and latest.generation == body["generation"]
    assert (latest.model_version, latest.requested_by) == (second_version, ops.key.split("_")[1])


def _stall(port: int, key: str) -> socket.socket:
    """Headers and 11 bytes of a 1,000-byte body, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST /v1/decisions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"firm_id":')
    return sock


def _status(sock: socket.socket) -> int:
    sock.settimeout(BODY_TIMEOUT_S + 15)
    try:
        line = sock.recv(64).split(b"\r\n", 1)[0]
    finally:
        sock.close()
    match = re.match(rb"HTTP/1\.1 (\d{3})", line)
    return int(match[1]) if match else 0


def test_stalled_bodies_lose_their_slots_and_another_key_keeps_being_decided(
    ops: Server, applicants: list[dict[str, Any]]
) -> None:
    port = int(ops.base.rsplit(":", 1)[1])
    stalling, other = _key(ops, "stalls"), _key(ops, "other")
    # given 140 connections of one key that send headers and 11 bytes of a 1,000-byte body, then stall
    sockets = [_stall(port, stalling) for _ in range(140)]
    time.sleep(0.5)
    # when another key asks for decisions meanwhile
    decided = [_decide(ops, applicants[i], other) for i in range(4)]
    # then they are decided, not refused
    assert [r.status_code for r in decided] == [201] * 4, [r.text for r in decided]
    assert httpx.get(f"{ops.base}/readyz", timeout=10).status_code == 200
    # and each stalled request is answered: 429 at once beyond the key's share, 408 at the body deadline
    statuses = [_status(s) for s in sockets]
    assert set(statuses) == {408, 429}, statuses
    assert statuses.count(408) <= 2 * PER_KEY
    # and the key that stalled is decided again once it sends whole bodies
    assert _decide(ops, applicants[5], stalling).status_code == 201


def test_no_redirect_is_built_from_the_host_header_and_unknown_hosts_are_refused(ops: Server) -> None:
    headers = ops.headers()
    # a trailing slash is a 404 on the deployment's own host, never a redirect
    own = httpx.post(f"{ops.base}/v1/decisions/", headers=headers, timeout=10)
    assert own.status_code == 404 and "location" not in own.headers
    # a forged Host header is refused (trusted hosts) and appears nowhere in the answer
    forged = httpx.post(f"{ops.base}/v1/decisions/", headers={**headers, "Host": "evil.example"}, timeout=10)
    assert forged.status_code == 400 and "location" not in forged.headers
    assert "evil.example" not in forged.text


def test_readiness_answers_reason_codes_only(ops: Server) -> None:
    ready = httpx.get(f"{ops.base}/readyz", timeout=10)
    assert ready.status_code == 200
    for check in ready.json()["checks"]:
        assert set(check) == {"component", "ok", "reason"}
        assert re.fullmatch(r"[a-z_]+", check["reason"]), check
    assert "/" not in json.dumps(ready.json()["checks"])


def test_readiness_follows_a_full_filesystem_under_the_audit_store(
    ops: Server, audit_dir: tuple[Path, bool], applicants: list[dict[str, Any]]
) -> None:
    folder, mounted = audit_dir
    if not mounted:
        pytest.skip("this machine does not allow mounting a tmpfs")
    assert _decide(ops, applicants[6]).status_code == 201
    # given the filesystem under the audit database filled to the last byte
    filler = folder / "filler"
    with filler.open("wb") as sink:
        try:
            while True:
                sink.write(b"\0" * (1 << 20))
                sink.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    try:
        # then readiness turns 503 within seconds, naming the audit store
        ready = wait_ready(ops, timeout_s=5, status=503)
        assert ready.status_code == 503, ready.text
        store_check = next(c for c in ready.json()["checks"] if c["component"] == "audit_store")
        assert store_check["ok"] is False and store_check["reason"] in {"disk_full", "write_failed"}
        # and a decision is refused with 503, nothing stored
        refused = _decide(ops, applicants[7])
        assert refused.status_code == 503 and refused.json()["error"] == "audit_unavailable"
    finally:
        filler.unlink()
    # when space is back, readiness recovers within seconds and decisions are stored again
    assert wait_ready(ops, timeout_s=15).status_code == 200
    assert _decide(ops, applicants[7]).status_code == 201
    verify = ops.cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
