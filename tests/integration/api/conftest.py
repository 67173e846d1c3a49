"""The decision API over real HTTP: ``credit-points serve`` started as a process on the trained model.

Each server runs on a free loopback port with the environment pointing at the session's trained home
(``tests/conftest.py::trained_model``), its own SQLite audit store, and an API key created with
``credit-points apikey create``. Everything the server writes (stdout and stderr) goes to one log file that
the canary test scans.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

CLI = [str(Path(sys.executable).with_name("credit-points"))]
ALL_SCOPES = "decision:write,decision:read,report:read,decision:override,decision:approve,admin"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running ``credit-points serve`` process, its log, audit store and one all-scopes key."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path
    audit_url: str
    env: dict[str, str]
    key: str = ""
    clients: list[httpx.Client] = field(default_factory=list)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``credit-points …`` with the server's environment."""
        return subprocess.run(
            [*CLI, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **extra}

    def client(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base, timeout=60)
        self.clients.append(client)
        return client

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def server_env(trained_model: Any, audit_url: str, **extra: str) -> dict[str, str]:
    """The trained home's environment with the engine as the decision service (the default factory)."""
    env = trained_model.env()
    env.pop("CREDIT_POINTS_SERVICE_FACTORY", None)
    env.update(
        {
            "CREDIT_POINTS_AUDIT_URL": audit_url,
            "CREDIT_POINTS_MODEL_URI": f"models:/credit-points/{trained_model.version}",
            "CREDIT_POINTS_LOG_LEVEL": "INFO",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        }
    )
    env.update(extra)
    return env


def start_server(workdir: Path, env: dict[str, str], *, key: bool = True, workers: int = 1) -> Server:
    """Create a key (``credit-points apikey create``) then start ``credit-points serve``; wait for ``/livez``."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "server.log"
    server = Server(None, f"http://127.0.0.1:{port}", log, env["CREDIT_POINTS_AUDIT_URL"], env)  # type: ignore[arg-type]
    if key:
        created = server.cli("apikey", "create", "--name", "integration", "--scopes", ALL_SCOPES)
        if created.returncode != 0:
            raise RuntimeError(f"apikey create failed: {created.stderr}")
        server.key = created.stdout.strip().splitlines()[-1]
    with log.open("ab") as sink:
        server.process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited: {server.log_text()[-3000:]}")
        try:
            if httpx.get(f"{server.base}/livez", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not come up: {server.log_text()[-3000:]}")


def wait_ready(server: Server, timeout_s: float = 60, *, status: int = 200) -> httpx.Response:
    """Poll ``/readyz`` until it answers ``status`` (200: ready; or the timeout); the last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = httpx.get(f"{server.base}/readyz", timeout=5)
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def applicant_dicts(frame: pd.DataFrame, n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` training applicants as the API receives them (validated, JSON-ready, outcome left out)."""
    from credit_points.api.schemas import applicant_model

    model = applicant_model()
    sample = frame.drop(columns=["default_12m"], errors="ignore").sample(frac=1.0, random_state=seed)
    for column in sample.columns:
        if pd.api.types.is_datetime64_any_dtype(sample[column]):
            sample[column] = sample[column].dt.strftime("%Y-%m-%d")
    rows = json.loads(sample.head(4 * n).to_json(orient="records"))
    out = []
    for row in rows:
        try:
            out.append(model.model_validate(row).model_dump(mode="json"))
        except ValueError:
            continue
        if len(out) == n:
            break
    return out


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="module")
def server(trained_model: Any, module_dir: Path) -> Iterator[Server]:
    """One server per test module on the trained model, its own audit store, a key with every scope."""
    env = server_env(trained_model, f"sqlite:///{module_dir / 'audit.db'}")
    running = start_server(module_dir / "server", env)
    try:
        ready = wait_ready(running)
        if ready.status_code != 200:
            raise RuntimeError(f"not ready: {ready.text}")
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def applicants(trained_model: Any) -> list[dict[str, Any]]:
    """A few dozen real applicants from the training data, as JSON."""
    return applicant_dicts(trained_model.applicants, 40)


@pytest.fixture
def audit_rows(server: Server) -> Callable[[], int]:
    """Counts the rows in the server's audit store."""
    from credit_points.audit.store import AuditStore

    def count() -> int:
        store = AuditStore(server.audit_url)
        try:
            return store.count()
        finally:
            store.dispose()

    return count
