"""The image's entrypoints (serving/entrypoint/*.sh) run under bash as compose would run them.

Against the local PostgreSQL (a role and two databases of their own; the role's password has every
character a URL reserves) and an MLflow tracking server that ``mlflow.sh`` itself starts: the init registers
a first champion once, the API becomes ready on it, and no process's command line ever holds the password.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy

from ..audit.conftest import pg_url_or_skip
from .api.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ENTRYPOINT = Path(__file__).resolve().parents[2] / "serving" / "entrypoint"
PASSWORD = "p@ss/w:rd #?&%"  # unencoded, each of these breaks a URL


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment compose gives the image's services, on a role and databases made for the test."""
    admin = sqlalchemy.make_url(pg_url_or_skip())
    tag = uuid.uuid4().hex[:8]
    role, mlflow_db, audit_db = f"cp_deploy_{tag}", f"cp_mlflow_{tag}", f"cp_audit_{tag}"
    engine = sqlalchemy.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        # DDL takes no bound parameters; the driver still reads % as one
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD.replace('%', '%%')}'")
        for db in (mlflow_db, audit_db):
            conn.exec_driver_sql(f"CREATE DATABASE {db} OWNER {role}")
    home = tmp_path_factory.mktemp("deployment")
    secret = home / "postgres_password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")  # as an editor saves it
    mlflow_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_POINTS_", "MLFLOW_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
        POSTGRES_HOST=admin.host or "127.0.0.1",
        POSTGRES_PORT=str(admin.port or 5432),
        POSTGRES_USER=role,
        POSTGRES_PASSWORD_FILE=str(secret),
        MLFLOW_DB=mlflow_db,
        AUDIT_DB=audit_db,
        MLFLOW_SERVER_HOST="127.0.0.1",
        MLFLOW_SERVER_PORT=str(mlflow_port),
        MLFLOW_SERVER_ALLOWED_HOSTS=f"127.0.0.1:{mlflow_port},localhost:{mlflow_port}",
        MLFLOW_ARTIFACTS_DESTINATION=str(home / "mlartifacts"),
        CREDIT_POINTS_TRACKING_URI=f"http://127.0.0.1:{mlflow_port}",
        CREDIT_POINTS_HOME=str(home / "srv"),
        CREDIT_POINTS_BOOTSTRAP_FIRMS="3000",
        CREDIT_POINTS_WAIT_S="120",
        CREDIT_POINTS_HOST="127.0.0.1",
        CREDIT_POINTS_PORT=str(free_port()),
        CREDIT_POINTS_WORKERS="1",
    )
    server = _start("mlflow.sh", env, home / "mlflow.log")
    try:
        _wait(f"{env['CREDIT_POINTS_TRACKING_URI']}/health", server, home / "mlflow.log")
        yield env
    finally:
        _stop(server)
        engine.dispose()
        with sqlalchemy.create_engine(admin, isolation_level="AUTOCOMMIT").connect() as conn:
            for db in (mlflow_db, audit_db):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")


def _start(script: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(["bash", str(ENTRYPOINT / script)], env=env, stdout=out, stderr=out,
                                start_new_session=True)  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-3000:]
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not up: {log.read_text(encoding='utf-8', errors='replace')[-3000:]}")


def _command_lines_holding(text: str) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info.get("cmdline") or [])
        if text in line or text.replace("@", "%40") in line:
            found.append(line)
    return found


def _bash(script: str, env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ENTRYPOINT / script)], env={**env, **extra}, capture_output=True,
                          text=True, timeout=900, check=False)  # fmt: skip


def test_init_registers_a_first_champion_once_and_the_api_serves_it(deployment: dict[str, str]) -> None:
    from mlflow import MlflowClient

    env = deployment
    client = MlflowClient(
        tracking_uri=env["CREDIT_POINTS_TRACKING_URI"], registry_uri=env["CREDIT_POINTS_TRACKING_URI"]
    )
    # the tracking server runs on PostgreSQL with the password from the file, on no command line
    assert not _command_lines_holding(PASSWORD)
    # when the init runs on the empty registry
    first = _bash("init.sh", env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    champion = client.get_model_version_by_alias("credit-points", "champion")
    assert champion.tags["gate.verdict"] == "passed"
    # and again (a restarted init container): nothing new
    again = _bash("init.sh", env)
    assert again.returncode == 0 and f"is version {champion.version}: nothing to do" in again.stdout, (
        again.stdout
    )
    assert len(client.search_model_versions("name='credit-points'")) == 1
    # then the API starts on it and becomes ready, its audit store the PostgreSQL database
    log = Path(env["CREDIT_POINTS_HOME"]) / "api.log"
    api = _start("api.sh", env, log)
    try:
        _wait(f"http://127.0.0.1:{env['CREDIT_POINTS_PORT']}/readyz", api, log)
        assert not _command_lines_holding(PASSWORD)
    finally:
        _stop(api)
    audit = sqlalchemy.make_url(pg_url_or_skip()).set(database=env["AUDIT_DB"])
    engine = sqlalchemy.create_engine(audit)
    try:
        with engine.connect() as conn:
            workers = conn.exec_driver_sql("SELECT model_version FROM serving_workers").scalars().all()
    finally:
        engine.dispose()
    assert workers and set(workers) == {str(champion.version)}


def test_a_missing_secret_or_an_unreachable_database_is_named(
    deployment: dict[str, str], tmp_path: Path
) -> None:
    missing = _bash("init.sh", deployment, POSTGRES_PASSWORD_FILE=str(tmp_path / "absent"))
    assert missing.returncode != 0 and "POSTGRES_PASSWORD_FILE" in missing.stderr, missing.stderr
    down = _bash("api.sh", deployment, POSTGRES_PORT=str(free_port()), CREDIT_POINTS_WAIT_S="2")
    assert down.returncode != 0 and "did not answer" in down.stderr, down.stderr
    assert PASSWORD not in down.stderr and "%40" not in down.stderr  # the URL is shown without it
