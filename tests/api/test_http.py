"""Over real HTTP: ``credit-points serve`` in a subprocess on a free loopback port, keys made by the CLI.

Checks what only a real server shows: the log canary (no name, credit code or key in any line the process
writes), fast 503s under overload with no audit row, and SIGTERM draining an in-flight request.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from credit_points.audit.store import AuditStore

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CLI = [str(Path(sys.executable).with_name("credit-points"))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    log: Path
    db_url: str
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, *args], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )


def _start(tmp_path: Path, **env_extra: str) -> Server:
    port = _free_port()
    db_url = f"sqlite:///{tmp_path / 'audit.db'}"
    env = {
        **os.environ,
        "CREDIT_POINTS_AUDIT_URL": db_url,
        "CREDIT_POINTS_SERVICE_FACTORY": "fake_service:build",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "CREDIT_POINTS_MAX_CONCURRENCY": "2",
        **env_extra,
    }
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{base}/livez", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"server did not start: {log.read_text()}")
    # the service loads after the server answers /livez: wait (bounded) until it is no longer loading
    for _ in range(300):
        checks = httpx.get(f"{base}/readyz", timeout=5).json()["checks"]
        if all(c["reason"] != "loading" for c in checks):
            break
        time.sleep(0.05)
    return Server(process, base, log, db_url, env)


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    running = _start(tmp_path_factory.mktemp("http"))
    yield running
    _stop(running)


def _key(server: Server, scopes: str) -> str:
    done = server.cli("apikey", "create", "--name", "http-test", "--scopes", scopes)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert re.fullmatch(r"cpk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    return key


def test_decision_over_http_is_stored_verified_and_replayable(server, new_applicant) -> None:
    key = _key(server, "decision:write,decision:read")
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{server.base}/readyz").status_code == 200
    response = httpx.post(f"{server.base}/v1/decisions", json=new_applicant(), headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    decision_id = response.json()["decision_id"]
    got = httpx.get(f"{server.base}/v1/decisions/{decision_id}", headers=headers, timeout=30)
    assert got.json()["record"] == response.json()["record"]
    verify = server.cli("audit", "verify")
    assert verify.returncode == 0 and verify.stdout.startswith("ok:"), verify.stderr
    replay = server.cli("audit", "replay", decision_id)
    assert replay.returncode == 0 and "replays identically" in replay.stdout, replay.stderr + replay.stdout
    assert "openapi" in httpx.get(f"{server.base}/openapi.json").json()


def test_overload_answers_503_at_once_and_stores_nothing_for_it(server, new_applicant) -> None:
    key = _key(server, "decision:write")
    store = AuditStore(server.db_url)
    before = store.count()
    n = 6
    statuses: list[int] = []
    bodies: list[dict] = []
    barrier = threading.Barrier(n)

    def call() -> None:
        barrier.wait()
        r = httpx.post(
            f"{server.base}/v1/decisions",
            json=new_applicant(zone="slow"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        statuses.append(r.status_code)
        bodies.append(r.json())

    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = statuses.count(201)
    overloaded = [b for b in bodies if b.get("error") == "overloaded"]
    # more concurrent requests than the limit of 2: the rest are refused, none hangs or half-happens
    assert 1 <= ok <= 2 and len(overloaded) == n - ok and statuses.count(503) == n - ok
    assert store.count() - before == ok
    assert "prob_default" not in str(overloaded)


def test_no_name_credit_code_or_key_in_any_log_line(server, new_applicant, fake) -> None:
    key = _key(server, "decision:write")
    headers = {"Authorization": f"Bearer {key}"}
    canary = new_applicant()
    # a success, a refusal, an internal error, a bad key and a bad credit code, all carrying the canaries
    assert (
        httpx.post(f"{server.base}/v1/decisions", json=canary, headers=headers, timeout=30).status_code == 201
    )
    assert (
        httpx.post(f"{server.base}/v1/decisions", json={**canary, "revenue": -1}, headers=headers).status_code
        == 422
    )
    failing = {**canary, "firm_id": fake.FAIL_FIRM_ID}
    error = httpx.post(f"{server.base}/v1/decisions", json=failing, headers=headers, timeout=30)
    assert error.status_code == 500 and "Traceback" not in error.text
    assert (
        httpx.post(
            f"{server.base}/v1/decisions", json=canary, headers={"Authorization": f"Bearer {key[:-3]}xyz"}
        ).status_code
        == 401
    )
    bad_code = {**canary, "firm_id": canary["firm_id"][:-1] + "0"}
    assert httpx.post(f"{server.base}/v1/decisions", json=bad_code, headers=headers).status_code == 422
    time.sleep(0.5)  # let the server flush its log lines
    log = server.log.read_text(encoding="utf-8", errors="replace")
    # the log is really being written (so the scan below means something) ...
    assert "POST /v1/decisions" in log and error.json()["correlation_id"] in log and "RuntimeError" in log
    # ... and holds none of the secrets
    for secret in (
        canary["name"],
        canary["firm_id"],
        fake.FAIL_FIRM_ID,
        bad_code["firm_id"],
        key,
        key.split("_", 2)[2],  # the secret (it may hold "_" itself)
    ):
        assert secret not in log, secret


def test_sigterm_drains_the_request_in_flight(tmp_path, new_applicant) -> None:
    server = _start(tmp_path, FAKE_SLOW_S="1.5")
    try:
        key = _key(server, "decision:write")
        result: dict[str, httpx.Response] = {}

        def slow_call() -> None:
            result["r"] = httpx.post(
                f"{server.base}/v1/decisions",
                json=new_applicant(zone="slow"),
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )

        caller = threading.Thread(target=slow_call)
        caller.start()
        # wait until the slow request is in flight (the gauge counts it plus the metrics request itself)
        for _ in range(200):
            metrics = httpx.get(f"{server.base}/metrics").text
            match = re.search(r"^credit_points_http_in_flight ([0-9.]+)$", metrics, re.M)
            if match and float(match.group(1)) >= 2:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the slow request never became in flight")
        server.process.send_signal(signal.SIGTERM)
        caller.join(timeout=60)
        # the request in flight was completed and stored; then the server stopped (uvicorn drains, then
        # re-raises SIGTERM so a supervisor sees the signal)
        assert result["r"].status_code == 201
        assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
        assert "Waiting for" in server.log.read_text() or "Finished server process" in server.log.read_text()
        assert AuditStore(server.db_url).count() == 1
    finally:
        _stop(server)


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (read from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _idle_children(pid: int) -> list[int]:
    """Processes below ``pid`` at the lowest CPU priority: ``SCHED_IDLE``, or nice 19."""
    idle = []
    for child in _descendants(pid):
        try:
            if os.sched_getscheduler(child) == os.SCHED_IDLE or os.getpriority(os.PRIO_PROCESS, child) == 19:
                idle.append(child)
        except OSError:
            continue
    return idle


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="needs Linux scheduling classes")
def test_a_hanging_shadow_runs_apart_at_idle_priority_and_holds_up_nothing(tmp_path, new_applicant) -> None:
    # given a service whose shadow challenger loads, then never finishes deciding
    # (deciding whenever it has work: the suite keeps the machine too busy for the default quiet gate)
    server = _start(
        tmp_path, CREDIT_POINTS_SHADOW_MODEL_URI="fake:hang", CREDIT_POINTS_SHADOW_MAX_CPU_BUSY="1"
    )
    try:
        key = _key(server, "decision:write,decision:read")
        headers = {"Authorization": f"Bearer {key}"}
        # then it decides in its own process, at the lowest CPU priority (nice 19 without the quiet gate)
        deadline = time.monotonic() + 60
        while not _idle_children(server.process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        idle = _idle_children(server.process.pid)
        assert len(idle) == 1, _descendants(server.process.pid)
        # and every request is answered and stored as without a shadow, while the shadow holds all of them
        answers = [
            httpx.post(f"{server.base}/v1/decisions", json=new_applicant(), headers=headers, timeout=30)
            for _ in range(5)
        ]
        assert [a.status_code for a in answers] == [201] * 5
        assert {a.json()["model_version"] for a in answers} == {"3"}
        assert AuditStore(server.db_url).count() == 5
        assert httpx.get(f"{server.base}/readyz").status_code == 200
        card = httpx.get(f"{server.base}/v1/model", headers=headers).json()
        assert card["version"] == "3"
        assert card["shadow"]["state"] == "ready" and card["shadow"]["version"] == "8"
        assert card["shadow"]["queued"] == 5
        assert (
            'credit_points_shadow_decisions_total{outcome="decided"}'
            not in httpx.get(f"{server.base}/metrics").text
        )
        # and a shutdown is not held by it: the server stops, and the shadow's process with it
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in idle) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(Path(f"/proc/{pid}").exists() for pid in idle)
    finally:
        _stop(server)


class _Forwarder:
    """A TCP forwarder to PostgreSQL that can lose the server (every connection cut, new ones refused)."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = _free_port()
        self.sockets: list[socket.socket] = []
        self.restore()

    def restore(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                return
            upstream.settimeout(None)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _readiness(server: Server, status: int, timeout_s: float) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        ready = httpx.get(f"{server.base}/readyz", timeout=10)
        if ready.status_code == status or time.monotonic() > deadline:
            return ready
        time.sleep(0.2)


def test_readiness_follows_a_lost_postgresql_server_and_its_return(tmp_path, new_applicant) -> None:
    import uuid

    import sqlalchemy as sa

    pg = os.environ.get("CREDIT_POINTS_TEST_PG_URL")
    if not pg:
        pytest.skip("CREDIT_POINTS_TEST_PG_URL not set")
    # given the API's PostgreSQL audit store reached through a forwarder that can lose the server
    url = sa.engine.make_url(pg)
    proxy = _Forwarder(int(url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    server = _start(
        tmp_path,
        CREDIT_POINTS_AUDIT_URL=proxied,
        CREDIT_POINTS_AUDIT_TABLE_PREFIX=prefix,
        CREDIT_POINTS_AUDIT_TIMEOUT_S="2",
    )
    try:
        headers = {"Authorization": f"Bearer {_key(server, 'decision:write')}"}
        assert (
            httpx.post(
                f"{server.base}/v1/decisions", json=new_applicant(), headers=headers, timeout=30
            ).status_code
            == 201
        )
        assert _readiness(server, 200, 10).status_code == 200
        # when the server is lost
        proxy.cut()
        # then readiness turns 503 within seconds, naming the audit store, and decisions are refused
        lost = _readiness(server, 503, 5)
        assert lost.status_code == 503, lost.text
        checks = {c["component"]: c for c in lost.json()["checks"]}
        assert checks["audit_store"] == {"component": "audit_store", "ok": False, "reason": "unavailable"}
        refused = httpx.post(f"{server.base}/v1/decisions", json=new_applicant(), headers=headers, timeout=30)
        assert refused.status_code == 503 and refused.json()["error"] == "audit_unavailable"
        # when it is back, readiness recovers and decisions are stored again
        proxy.restore()
        assert _readiness(server, 200, 20).status_code == 200
        again = httpx.post(f"{server.base}/v1/decisions", json=new_applicant(), headers=headers, timeout=30)
        assert again.status_code == 201, again.text
        store = AuditStore(pg, table_prefix=prefix)
        assert store.count() == 2 and store.verify().ok
    finally:
        _stop(server)
        proxy.cut()
        store = AuditStore(pg, table_prefix=prefix)
        store.drop_schema()
        store.dispose()


def _named_key(server: Server, name: str, scopes: str) -> str:
    done = server.cli("apikey", "create", "--name", name, "--scopes", scopes)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(params=["sqlite", "postgresql"])
def override_server(request, tmp_path) -> Iterator[Server]:
    """A server on SQLite or on PostgreSQL (its own table prefix)."""
    import uuid

    extra: dict[str, str] = {}
    pg = os.environ.get("CREDIT_POINTS_TEST_PG_URL")
    if request.param == "postgresql":
        if not pg:
            pytest.skip("CREDIT_POINTS_TEST_PG_URL not set")
        extra = {
            "CREDIT_POINTS_AUDIT_URL": pg,
            "CREDIT_POINTS_AUDIT_TABLE_PREFIX": f"t{uuid.uuid4().hex[:10]}_",
        }
    running = _start(tmp_path, **extra)
    yield running
    _stop(running)
    if extra:
        store = AuditStore(pg, table_prefix=extra["CREDIT_POINTS_AUDIT_TABLE_PREFIX"])  # type: ignore[arg-type]
        store.drop_schema()
        store.dispose()


def test_overrides_are_checked_carry_the_real_actor_and_large_ones_need_a_second_officer(
    override_server, new_applicant
) -> None:
    server = override_server
    store = AuditStore(
        server.env["CREDIT_POINTS_AUDIT_URL"],
        table_prefix=server.env.get("CREDIT_POINTS_AUDIT_TABLE_PREFIX", ""),
    )
    officer = {
        "Authorization": f"Bearer {_named_key(server, 'officer-a', 'decision:override,decision:read')}"
    }
    same_owner = {"Authorization": f"Bearer {_named_key(server, 'officer-a', 'decision:approve')}"}
    approver = {"Authorization": f"Bearer {_named_key(server, 'approver-b', 'decision:approve')}"}
    writer = {"Authorization": f"Bearer {_named_key(server, 'core-banking', 'decision:write')}"}
    decided = httpx.post(
        f"{server.base}/v1/decisions", json=new_applicant(), headers=writer, timeout=30
    ).json()
    assert (decided["decision"], decided["limit"]) == ("approve", 3_640_000.0)
    base = f"{server.base}/v1/decisions/{decided['decision_id']}"

    def override(new_values: dict, code: str = "O04", **extra: object) -> httpx.Response:
        body = {"reason_code": code, "reason": "经核实 / verified", "new_values": new_values, **extra}
        return httpx.post(f"{base}/override", json=body, headers=officer, timeout=30)

    # every bad value is refused naming its field, and nothing is written
    rows = store.count()
    for new_values, code, field in [
        ({"limit": -5}, "O04", "new_values.limit"),
        ({"limit": 1e308}, "O01", "new_values.limit"),
        ({"limit": 5e7}, "O01", "new_values.limit"),  # above the product's cap
        ({"limit": 3_645_000}, "O01", "new_values.limit"),  # not in units of 10,000
        ({"decision": "banana"}, "O04", "new_values.decision"),
        ({"decision": "decline", "limit": 5_000_000}, "O05", "new_values.limit"),
        ({"foo": 1}, "O04", "new_values.foo"),
        ({"limit": 3_640_000}, "O04", "new_values"),  # changes nothing
        ({"limit": 3_000_000}, "O99", "reason_code"),  # not in the table
        ({"limit": 3_000_000}, "O01", "reason_code"),  # O01 justifies raising a limit
        ({"limit": 3_000_000}, "X1", "reason_code"),
    ]:
        refused = override(new_values, code)
        assert refused.status_code == 422, (new_values, refused.text)
        assert refused.json()["errors"][0]["field"] == field, (new_values, refused.text)
    assert store.count() == rows

    # the actor is the key's owner; "officer" adds a name and never replaces it
    lowered = override({"limit": 3_000_000}, officer="冒名者")
    assert lowered.status_code == 201, lowered.text
    record = lowered.json()["record"]
    assert record["actor"]["owner"] == "officer-a" and record["officer"] == "officer-a"
    assert record["officer_name"] == "冒名者" and record["status"] == "in_force"
    assert record["before"]["limit"] == 3_640_000.0 and record["after"]["limit"] == 3_000_000.0
    got = httpx.get(base, headers=officer, timeout=30).json()
    assert got["in_force"]["limit"] == 3_000_000.0 and got["in_force"]["by"] == lowered.json()["decision_id"]

    # four eyes: an increase above the size is pending and changes nothing yet
    raised = override({"limit": 4_500_000}, code="O01")
    assert raised.status_code == 201, raised.text
    assert raised.json()["record"]["status"] == "pending"
    assert raised.json()["record"]["four_eyes"] == ["limit_increase_above:1000000"]
    pending_id = raised.json()["decision_id"]
    got = httpx.get(base, headers=officer, timeout=30).json()
    assert got["in_force"]["limit"] == 3_000_000.0
    assert got["history"][-1]["status"] == "pending"
    review = f"{base}/overrides/{pending_id}"
    rows = store.count()
    # the asking key lacks the approver scope; another key of the same owner is refused; nothing written
    assert httpx.post(f"{review}/approve", headers=officer, timeout=30).status_code == 403
    same = httpx.post(f"{review}/approve", headers=same_owner, timeout=30)
    assert same.status_code == 403 and same.json()["error"] == "four_eyes"
    assert store.count() == rows
    # a second officer approves: only now does the decision in force change
    approved = httpx.post(f"{review}/approve", json={"comment": "抵押已核实"}, headers=approver, timeout=30)
    assert approved.status_code == 201, approved.text
    got = httpx.get(base, headers=officer, timeout=30).json()
    assert got["in_force"]["limit"] == 4_500_000.0 and got["in_force"]["by"] == pending_id
    step = next(h for h in got["history"] if h["id"] == pending_id)
    assert step["status"] == "approved" and step["reviewed_by"]["owner"] == "approver-b"
    again = httpx.post(f"{review}/approve", headers=approver, timeout=30)
    assert again.status_code == 409 and again.json()["error"] == "override_not_pending"

    # a rejected override never comes into force
    big = override({"limit": 6_000_000}, code="O03")
    assert big.status_code == 201 and big.json()["record"]["four_eyes"] == [
        "limit_increase_above:1000000",
        "limit_above:5000000",
    ]
    rejected = httpx.post(
        f"{base}/overrides/{big.json()['decision_id']}/reject", headers=approver, timeout=30
    )
    assert rejected.status_code == 201, rejected.text
    got = httpx.get(base, headers=officer, timeout=30).json()
    assert got["in_force"]["limit"] == 4_500_000.0
    assert [h.get("status") or h["verdict"] for h in got["history"]] == [
        "in_force",
        "approved",
        "approved",
        "rejected",
        "rejected",
    ]

    # the chain verifies and replays with pending, approved and rejected overrides in it
    verify = server.cli("audit", "verify")
    assert verify.returncode == 0 and verify.stdout.startswith("ok:"), verify.stdout + verify.stderr
    replay = server.cli("audit", "replay", decided["decision_id"])
    assert replay.returncode == 0 and "replays identically" in replay.stdout, replay.stdout + replay.stderr
    assert "4500000" in replay.stdout.replace(",", "") and "rejected" in replay.stdout
    store.dispose()
