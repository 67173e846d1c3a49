"""The audit and apikey commands: keys printed once, verify naming the first altered row."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from credit_points.audit.store import AuditStore
from credit_points.cli import app


def test_apikey_create_prints_the_key_once_and_list_never_shows_it(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "apikey",
            "create",
            "--name",
            "core-banking",
            "--scopes",
            "decision:write,decision:read",
            "--audit-url",
            url,
        ],
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert re.fullmatch(r"cpk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    listed = runner.invoke(app, ["apikey", "list", "--audit-url", url])
    assert listed.exit_code == 0 and "core-banking" in listed.stdout and key.split("_")[1] in listed.stdout
    assert key.split("_")[2] not in listed.stdout
    revoked = runner.invoke(app, ["apikey", "revoke", "--key-id", key.split("_")[1], "--audit-url", url])
    assert revoked.exit_code == 0 and "revoked 1" in revoked.stdout
    again = runner.invoke(app, ["apikey", "revoke", "--key-id", key.split("_")[1], "--audit-url", url])
    assert again.exit_code == 1


def test_audit_verify_exits_1_naming_the_first_altered_row(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = AuditStore(url)
    store.create_schema()
    rows = [
        store.append_decision({"decision": "approve", "n": i}, request_id="r", client_id="c")
        for i in range(4)
    ]
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--audit-url", url])
    assert ok.exit_code == 0 and ok.stdout.startswith("ok: 4 rows verified")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TRIGGER {store.log.name}_no_update")
        conn.exec_driver_sql(
            f"UPDATE {store.log.name} SET record_json = replace(record_json, '\"n\":2', '\"n\":9') WHERE seq = 3"
        )
    bad = runner.invoke(app, ["audit", "verify", "--audit-url", url])
    assert bad.exit_code == 1
    assert f"seq 3 (decision {rows[2].decision_id})" in bad.stderr
    as_json = runner.invoke(app, ["audit", "verify", "--json", "--audit-url", url])
    assert as_json.exit_code == 1 and '"first_bad_seq": 3' in as_json.stdout


def test_replay_without_a_service_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CREDIT_POINTS_SERVICE_FACTORY", raising=False)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    result = CliRunner().invoke(app, ["audit", "replay", "0" * 32, "--audit-url", url])
    assert result.exit_code != 0
    assert "CREDIT_POINTS_SERVICE_FACTORY" in str(result.exception) + result.output
