"""The shadow challenger over real HTTP: the same requests answered with and without a shadow give the same
answers and byte-identical audit records; the shadow's decisions land in the shadow table, one per decision;
a shadow that cannot load changes nothing a client or a probe sees."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from credit_points.audit.shadow import ShadowStore
from credit_points.audit.store import AuditStore

from .conftest import applicant_dicts, server_env, start_server, wait_ready

pytestmark = pytest.mark.slow

#: the shadow decides whenever it has work (at nice 19), not only while the machine is quiet: the
#: test suite keeps both cores busy (the quiet gate has its own tests in tests/api/test_shadow_gate.py)
_ALWAYS = "1"

#: what differs between two servers answering the same request: identities, times and chain position
_VOLATILE = {"decision_id", "created_at", "row_hash", "prev_hash", "seq", "request_id"}


def _answers(server: Any, applicants: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any], str]]:
    """Each applicant posted alone: (status, the answer without its volatile keys, the record's raw text)."""
    out = []
    with server.client() as client:
        for applicant in applicants:
            response = client.post("/v1/decisions", json=applicant, headers=server.headers())
            body = response.json()
            raw = response.text
            record = raw[raw.index(',"record":') + len(',"record":') : -1]
            out.append((response.status_code, {k: v for k, v in body.items() if k not in _VOLATILE}, record))
    return out


def _records(url: str) -> list[str]:
    store = AuditStore(url)
    try:
        return [row.record_json for row in store.iter_rows() if row.kind == "decision"]
    finally:
        store.dispose()


def _shadow_rows(url: str, want: int, timeout_s: float = 120) -> Any:
    """The shadow table once it holds ``want`` rows (or whatever it holds at the timeout)."""
    store = AuditStore(url)
    try:
        shadows = ShadowStore(store)
        shadows.create_schema()
        deadline = time.monotonic() + timeout_s
        while True:
            rows = shadows.frame()
            if len(rows) >= want or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)
    finally:
        store.dispose()


def test_a_shadow_changes_no_answer_and_records_each_decision(
    trained_model, shadow_version, tmp_path: Path
) -> None:
    applicants = applicant_dicts(trained_model.applicants, 24, seed=3)
    plain_url, shadow_url = f"sqlite:///{tmp_path / 'plain.db'}", f"sqlite:///{tmp_path / 'shadow.db'}"
    # given one server without a shadow and one whose shadow is the second version
    plain = start_server(tmp_path / "plain", server_env(trained_model, plain_url))
    shadowed = start_server(
        tmp_path / "shadowed",
        server_env(
            trained_model,
            shadow_url,
            CREDIT_POINTS_SHADOW_MODEL_URI="models:/credit-points@shadow",
            CREDIT_POINTS_SHADOW_MAX_CPU_BUSY=_ALWAYS,
        ),
    )
    try:
        assert wait_ready(plain).status_code == 200 and wait_ready(shadowed).status_code == 200
        # when both answer the same requests
        first, second = _answers(plain, applicants), _answers(shadowed, applicants)
        # then the answers are the same and name the champion, and the audit records are byte-identical
        assert [a[0] for a in first] == [201] * len(applicants)
        assert [(a[0], a[1]) for a in first] == [(a[0], a[1]) for a in second]
        assert [a[2] for a in first] == [a[2] for a in second]
        assert {a[1]["model_version"] for a in second} == {str(trained_model.version)}
        assert _records(plain_url) == _records(shadow_url) == [a[2] for a in first]
        # and the shadow decided each of them, keyed by the champion's decision id
        stored = AuditStore(shadow_url)
        try:
            decision_ids = [row.decision_id for row in stored.iter_rows() if row.kind == "decision"]
        finally:
            stored.dispose()
        rows = _shadow_rows(shadow_url, len(applicants))
        assert sorted(rows["decision_id"]) == sorted(decision_ids), shadowed.log_text()[-3000:]
        assert set(rows["model_version"]) == {shadow_version} and rows["error"].isna().all()
        assert rows["decision"].isin(["approve", "refer", "decline"]).all()
        assert rows["prob_default"].between(0, 1).all()
        # its PDs are its own, not a copy of the champion's
        champion_pd = {r["decision_id"]: r for r in _champion_pds(shadow_url)}
        assert any(
            abs(row.prob_default - champion_pd[row.decision_id]["prob_default"]) > 1e-9
            for row in rows.itertuples()
        )
        # and the model card shows the shadow and what it decided
        with shadowed.client() as client:
            card = client.get("/v1/model", headers=shadowed.headers()).json()
        assert card["version"] == str(trained_model.version)
        assert card["shadow"]["state"] == "ready" and card["shadow"]["version"] == shadow_version
        metrics = shadowed.client().get("/metrics").text
        assert (
            f'credit_points_shadow_decisions_total{{outcome="decided"}} {float(len(applicants))}' in metrics
        )
    finally:
        plain.stop()
        shadowed.stop()


def _champion_pds(url: str) -> list[dict[str, Any]]:
    store = AuditStore(url)
    try:
        return [
            {"decision_id": row.decision_id, "prob_default": row.record["risk"]["prob_default"]}
            for row in store.iter_rows()
            if row.kind == "decision"
        ]
    finally:
        store.dispose()


def test_a_shadow_that_cannot_load_changes_nothing(trained_model, tmp_path: Path) -> None:
    applicants = applicant_dicts(trained_model.applicants, 8, seed=5)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    # given a server whose shadow names a version the registry does not have
    server = start_server(
        tmp_path / "server",
        server_env(
            trained_model,
            url,
            CREDIT_POINTS_SHADOW_MODEL_URI="models:/credit-points/999",
            CREDIT_POINTS_SHADOW_MAX_CPU_BUSY=_ALWAYS,
        ),
    )
    try:
        # then it is ready, answers every request as usual, and records no shadow decision
        assert wait_ready(server).status_code == 200
        answers = _answers(server, applicants)
        assert [a[0] for a in answers] == [201] * len(applicants)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            card = server.client().get("/v1/model", headers=server.headers()).json()
            if card["shadow"]["state"].startswith("unavailable"):
                break
            time.sleep(0.2)
        assert card["shadow"]["state"].startswith("unavailable"), card["shadow"]
        assert card["version"] == str(trained_model.version)
        assert len(_shadow_rows(url, 1, timeout_s=1)) == 0
        assert (
            'credit_points_shadow_decisions_total{outcome="failed"}' in server.client().get("/metrics").text
        )
        assert server.client().get("/readyz").status_code == 200
    finally:
        server.stop()
