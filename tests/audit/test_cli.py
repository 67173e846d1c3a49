"""The audit and apikey commands on both engines: keys printed once, verify naming the first altered row."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from credit_points.audit.store import AuditStore
from credit_points.cli import app


@pytest.fixture
def cli_env(store: AuditStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Point the commands at the test store (its URL, and its table prefix through the environment)."""
    monkeypatch.setenv("CREDIT_POINTS_AUDIT_TABLE_PREFIX", store.prefix)
    return ["--audit-url", store.url]


def test_apikey_create_prints_the_key_once_and_list_never_shows_it(store: AuditStore, cli_env) -> None:
    runner = CliRunner()
    created = runner.invoke(
        app,
        ["apikey", "create", "--name", "core-banking", "--scopes", "decision:write,decision:read", *cli_env],
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert re.fullmatch(r"cpk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    listed = runner.invoke(app, ["apikey", "list", *cli_env])
    assert listed.exit_code == 0 and "core-banking" in listed.stdout and key.split("_")[1] in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout
    revoked = runner.invoke(app, ["apikey", "revoke", "--key-id", key.split("_")[1], *cli_env])
    assert revoked.exit_code == 0 and "revoked 1" in revoked.stdout
    again = runner.invoke(app, ["apikey", "revoke", "--key-id", key.split("_")[1], *cli_env])
    assert again.exit_code == 1


def test_audit_verify_exits_1_naming_the_first_altered_row(store: AuditStore, cli_env) -> None:
    rows = [
        store.append_decision({"decision": "approve", "n": i}, request_id="r", client_id="c")
        for i in range(4)
    ]
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", *cli_env])
    assert ok.exit_code == 0 and ok.stdout.startswith("ok: 4 rows verified"), ok.output
    t = store.log.name
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(f"DROP TRIGGER {t}_no_update")
        else:
            conn.exec_driver_sql(f"ALTER TABLE {t} DISABLE TRIGGER {t}_append_only")
        conn.exec_driver_sql(
            f"UPDATE {t} SET record_json = replace(record_json, '\"n\":2', '\"n\":9') WHERE seq = 3"
        )
    bad = runner.invoke(app, ["audit", "verify", *cli_env])
    assert bad.exit_code == 1
    assert f"seq 3 (decision {rows[2].decision_id})" in bad.stderr
    as_json = runner.invoke(app, ["audit", "verify", "--json", *cli_env])
    assert as_json.exit_code == 1 and '"first_bad_seq": 3' in as_json.stdout


def test_replay_without_a_service_is_a_clear_error(store: AuditStore, cli_env, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("CREDIT_POINTS_SERVICE_FACTORY", raising=False)
    # a home without any model (whatever `make demo` left in the working folder)
    monkeypatch.setenv("CREDIT_POINTS_HOME", str(tmp_path))
    for name in ("CREDIT_POINTS_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["audit", "replay", "0" * 32, *cli_env])
    assert result.exit_code != 0
    assert "CREDIT_POINTS_SERVICE_FACTORY" in str(result.exception) + result.output
