"""Decisions over HTTP (in process): recorded before answered, idempotency, batch, override, reports, health."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid

import pytest


def test_a_decision_is_stored_then_answered_with_the_stored_record(make_api, new_applicant, fake) -> None:
    api = make_api()
    payload = new_applicant()
    # when one applicant is decided
    response = api.client.post("/v1/decisions", json=payload, headers=api.headers("decision:write"))
    # then 201 with the engine's record, exactly one audit row holding the same record byte for byte
    assert response.status_code == 201, response.text
    body = response.json()
    independent = fake.FakeDecisionService()._decide_one(payload)
    assert body["record"] == independent
    assert api.store.count() == 1
    row = api.store.get(body["decision_id"])
    assert row is not None and row.record_json in response.text
    assert (
        row.client_id == api.keys["decision:write"].split("_")[1]
        and row.request_id == response.headers["x-request-id"]
    )
    assert (body["decision"], body["prob_default"], body["limit"]) == (
        row.decision,
        row.prob_default,
        row.limit_amount,
    )
    assert body["model_version"] == "3" == response.headers["x-model-version"]
    assert response.headers["location"] == f"/v1/decisions/{body['decision_id']}"
    assert (
        row.input_sha256
        == hashlib.sha256(
            json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
    )
    assert api.store.verify().ok
    # and GET returns the same stored decision
    got = api.client.get(f"/v1/decisions/{body['decision_id']}", headers=api.headers("decision:read"))
    assert got.status_code == 200 and got.json()["record"] == body["record"] and got.json()["overrides"] == []


def test_unknown_decision_is_404_and_a_malformed_id_is_422(make_api) -> None:
    api = make_api()
    assert api.client.get("/v1/decisions/" + "0" * 32, headers=api.headers()).status_code == 404
    response = api.client.get("/v1/decisions/DROP-TABLE", headers=api.headers())
    assert response.status_code == 422 and "DROP-TABLE" not in response.text


def test_idempotency_same_key_and_body_returns_the_same_decision_once(make_api, new_applicant) -> None:
    api = make_api()
    headers = api.headers("decision:write", **{"Idempotency-Key": "loan-2024-0001"})
    first = api.client.post("/v1/decisions", json=new_applicant(), headers=headers)
    # the same body with its keys in another order is the same body
    reordered = dict(reversed(list(new_applicant().items())))
    second = api.client.post("/v1/decisions", json=reordered, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert (
        second.json()["decision_id"] == first.json()["decision_id"]
        and second.json()["record"] == first.json()["record"]
    )
    assert second.headers["idempotent-replayed"] == "true" and second.json()["idempotent_replay"] is True
    assert api.store.count() == 1 and api.service.decide_calls == 1


def test_idempotency_same_key_with_another_body_is_refused(make_api, new_applicant) -> None:
    api = make_api()
    headers = api.headers("decision:write", **{"Idempotency-Key": "loan-2024-0002"})
    assert api.client.post("/v1/decisions", json=new_applicant(), headers=headers).status_code == 201
    response = api.client.post("/v1/decisions", json=new_applicant(revenue=13_000_000.0), headers=headers)
    assert response.status_code == 422 and response.json()["error"] == "idempotency_key_reused"
    assert api.store.count() == 1 and api.service.decide_calls == 1
    # another client may use the same key for its own request
    other = api.client.post(
        "/v1/decisions",
        json=new_applicant(revenue=13_000_000.0),
        headers=api.headers("all", **{"Idempotency-Key": "loan-2024-0002"}),
    )
    assert other.status_code == 201 and api.store.count() == 2


def test_batch_decides_good_rows_and_reports_bad_ones(make_api, new_applicant) -> None:
    api = make_api()
    rows = [
        new_applicant(),
        new_applicant(revenue=-5.0),
        new_applicant(invention_patents_valid=1),
        "oops",
        {**new_applicant(), "unknown": 1},
    ]
    response = api.client.post("/v1/decisions/batch", json={"applicants": rows}, headers=api.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["n_ok"], body["n_error"]) == (2, 3)
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [(0, "ok"), (1, "error"), (2, "ok"), (3, "error"), (4, "error")]
    assert body["results"][1]["errors"][0]["field"] == "revenue"
    assert body["results"][4]["errors"][0]["field"] == "unknown"
    # exactly the good rows are stored, once each, in one decide call
    assert api.store.count() == 2 and api.service.decide_calls == 1
    ids = {r["decision"]["decision_id"] for r in body["results"] if r["status"] == "ok"}
    assert {row.decision_id for row in api.store.iter_rows()} == ids


def test_batch_over_the_limit_is_refused_whole(make_api, new_applicant) -> None:
    api = make_api(max_batch=3)
    response = api.client.post(
        "/v1/decisions/batch", json={"applicants": [new_applicant()] * 4}, headers=api.headers()
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "applicants"
    assert api.store.count() == 0


def test_override_is_a_linked_row_and_leaves_the_original_byte_identical(make_api, new_applicant) -> None:
    api = make_api()
    decided = api.client.post("/v1/decisions", json=new_applicant(), headers=api.headers()).json()
    before = api.store.get(decided["decision_id"])
    assert decided["decision"] == "approve" and decided["limit"] > 300000
    override = {
        "reason_code": "O04",
        "reason": "客户申请降低额度 / the customer asked for less",
        "officer": "王敏",
        "new_values": {"limit": 300000},
    }
    response = api.client.post(
        f"/v1/decisions/{decided['decision_id']}/override",
        json=override,
        headers=api.headers("decision:override"),
    )
    assert response.status_code == 201, response.text
    out = response.json()
    assert (
        out["kind"] == "override" and out["parent_id"] == decided["decision_id"] and out["limit"] == 300000.0
    )
    assert api.store.get(decided["decision_id"]) == before
    got = api.client.get(f"/v1/decisions/{decided['decision_id']}", headers=api.headers()).json()
    assert [o["decision_id"] for o in got["overrides"]] == [out["decision_id"]]
    assert got["overrides"][0]["record"]["reason"] == override["reason"]
    assert api.store.verify().ok
    # an override needs a reason, and a decision to attach to
    bad = api.client.post(
        f"/v1/decisions/{decided['decision_id']}/override",
        json={**override, "reason": ""},
        headers=api.headers(),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
    missing = api.client.post("/v1/decisions/" + "f" * 32 + "/override", json=override, headers=api.headers())
    assert missing.status_code == 404 and api.store.count() == 2


@pytest.mark.parametrize(("fmt", "media"), [("json", "application/json"), ("html", "text/html")])
def test_report_is_rendered_from_the_stored_row(make_api, new_applicant, fmt, media) -> None:
    api = make_api()
    decided = api.client.post("/v1/decisions", json=new_applicant(), headers=api.headers()).json()
    response = api.client.get(
        f"/v1/decisions/{decided['decision_id']}/report?format={fmt}&lang=en",
        headers=api.headers("report:read"),
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith(media)
    if fmt == "json":
        report = response.json()
        assert (
            report["risk"] == decided["record"]["risk"] and report["audit"]["row_hash"] == decided["row_hash"]
        )


def test_report_format_is_checked_without_echo(make_api, new_applicant) -> None:
    api = make_api()
    decided = api.client.post("/v1/decisions", json=new_applicant(), headers=api.headers()).json()
    response = api.client.get(
        f"/v1/decisions/{decided['decision_id']}/report?format=docx-CANARY", headers=api.headers()
    )
    assert response.status_code == 422 and "docx-CANARY" not in response.text


def test_points_are_returned_and_nothing_is_stored(make_api, new_applicant) -> None:
    api = make_api()
    response = api.client.post("/v1/points", json=new_applicant(), headers=api.headers())
    assert response.status_code == 200 and response.json()["points_total"] == 101.25
    assert api.store.count() == 0


def test_model_card_and_reload(make_api) -> None:
    api = make_api()
    card = api.client.get("/v1/model", headers=api.headers("decision:read"))
    assert card.status_code == 200 and card.json()["version"] == "3"
    refused = api.client.post(
        "/admin/reload", json={"model_uri": "models:/bad/9"}, headers=api.headers("admin")
    )
    assert refused.status_code == 409 and refused.json()["error"] == "reload_refused"
    assert (
        api.client.get("/v1/model", headers=api.headers()).json()["version"] == "3"
    )  # the old one keeps serving
    swapped = api.client.post("/admin/reload", headers=api.headers("admin"))
    assert swapped.status_code == 200 and swapped.json() == {"previous_version": "3", "version": "4"}
    assert api.service.reloads == ["models:/bad/9", None]


def test_readyz_reports_a_missing_model_and_decisions_are_refused(make_api, new_applicant, fake) -> None:
    service = fake.FakeDecisionService()
    service.not_ready = "model hash mismatch"
    api = make_api(service=service)
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    checks = {c["component"]: c for c in ready.json()["checks"]}
    assert ready.json()["status"] == "not_ready"
    # the reason is a code: the service's prose (which may name paths or hashes) goes to the log only
    assert checks["model"] == {"component": "model", "ok": False, "reason": "model_unavailable"}
    assert "mismatch" not in ready.text
    assert checks["audit_store"]["ok"] is True
    response = api.client.post("/v1/decisions", json=new_applicant(), headers=api.headers())
    assert response.status_code == 503 and response.json()["error"] == "not_ready"
    assert "model_unavailable" in response.json()["message"] and "mismatch" not in response.text
    assert api.store.count() == 0 and service.decide_calls == 0
    assert api.client.get("/livez").status_code == 200


def test_without_a_configured_service_the_app_starts_not_ready(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from credit_points.api.app import create_app
    from credit_points.config import Settings

    # a home without any model (whatever `make demo` left in the working folder)
    settings = Settings(audit_url=f"sqlite:///{tmp_path / 'a.db'}", home=tmp_path, tracking_uri=None)
    with TestClient(create_app(settings)) as client:
        # the model loads in the background: "loading" first, then why it failed (bounded wait)
        deadline = time.monotonic() + 60
        while True:
            ready = client.get("/readyz")
            model = next(c for c in ready.json()["checks"] if c["component"] == "model")
            if model["reason"] != "loading" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert ready.status_code == 503
        assert model == {"component": "model", "ok": False, "reason": "model_unavailable"}
        # the answer names no path, setting or URI (those go to the log)
        assert str(tmp_path) not in ready.text and "models:/" not in ready.text


def test_read_only_audit_store_gives_503_without_pd_or_limit_and_no_row(
    make_api, new_applicant, tmp_path
) -> None:
    db = tmp_path / "audit.db"
    api = make_api(audit_url=f"sqlite:///file:{db}?mode=ro&uri=true", writable_url=f"sqlite:///{db}")
    response = api.client.post("/v1/decisions", json=new_applicant(), headers=api.headers())
    # the engine ran, but the row could not be committed: 503, no PD or limit anywhere in the body
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"] == "audit_unavailable" and set(body) == {"error", "message", "correlation_id"}
    assert "prob_default" not in response.text and "limit" not in response.text
    assert api.store.count() == 0 and api.store.verify().ok
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert any(c["component"] == "audit_store" and not c["ok"] for c in ready.json()["checks"])


def test_unreachable_audit_database_gives_503(make_api, new_applicant, tmp_path) -> None:
    api = make_api(
        audit_url="postgresql+psycopg://nobody@127.0.0.1:9/none",
        writable_url=f"sqlite:///{tmp_path / 'k.db'}",
        audit_timeout_s=1,
    )
    response = api.client.post("/v1/decisions", json=new_applicant(), headers=api.headers())
    assert response.status_code == 503 and response.json()["error"] == "audit_unavailable"
    assert api.service.decide_calls == 0  # keys live in the same store: nothing ran
    assert api.client.get("/readyz").status_code == 503 and api.client.get("/livez").status_code == 200


def test_metrics_count_decisions_by_outcome_and_route_template(make_api, new_applicant) -> None:
    api = make_api()
    for _ in range(2):
        api.client.post("/v1/decisions", json=new_applicant(), headers=api.headers())
    api.client.post("/v1/decisions", json=new_applicant(revenue=-1.0), headers=api.headers())
    decision_id = api.store.iter_rows().__next__().decision_id
    api.client.get(f"/v1/decisions/{decision_id}", headers=api.headers())
    text = api.client.get("/metrics").text

    def value(pattern: str) -> float:
        match = re.search(pattern + r" ([0-9.e+]+)", text)
        assert match, pattern
        return float(match.group(1))

    assert value(r'credit_points_decisions_total\{decision="approve"\}') == 2.0
    assert value(r'credit_points_audit_rows_written_total\{kind="decision"\}') == 2.0
    assert value(r"credit_points_validation_errors_total") == 1.0
    assert (
        value(r'credit_points_http_requests_total\{method="POST",route="/v1/decisions",status="201"\}') == 2.0
    )
    assert (
        value(
            r'credit_points_http_requests_total\{method="GET",route="/v1/decisions/\{decision_id\}",status="200"\}'
        )
        == 1.0
    )
    assert decision_id not in text


def test_request_id_is_taken_from_the_client_when_plain(make_api) -> None:
    api = make_api()
    assert api.client.get("/livez", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = api.client.get("/livez", headers={"X-Request-ID": "bad id\twith spaces"}).headers[
        "x-request-id"
    ]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)


def test_decisions_are_stored_in_postgresql_too(make_api, new_applicant) -> None:
    url = os.environ.get("CREDIT_POINTS_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CREDIT_POINTS_TEST_PG_URL is not set under CI")
        pytest.skip("CREDIT_POINTS_TEST_PG_URL not set")
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    api = make_api(audit_url=url, prefix=prefix)
    response = api.client.post("/v1/decisions", json=new_applicant(), headers=api.headers())
    assert response.status_code == 201
    row = api.store.get(response.json()["decision_id"])
    assert row is not None and row.record_json in response.text and api.store.verify().ok


def test_a_full_batch_of_one_thousand_fits_its_own_body_limit(make_api, new_applicant) -> None:
    api = make_api(max_body_bytes=100_000)  # far below a 1,000-row batch: the batch limit applies instead
    rows = [new_applicant(invention_patents_valid=i % 50) for i in range(1000)]
    response = api.client.post("/v1/decisions/batch", json={"applicants": rows}, headers=api.headers())
    assert len(response.request.content) > 1_000_000
    assert response.status_code == 200, response.text[:300]
    assert response.json()["n_ok"] == 1000 and api.store.count() == 1000 and api.service.decide_calls == 1
    # while a single decision above the general limit is still refused
    big = api.client.post("/v1/decisions", content=b" " * 100_001, headers=api.headers())
    assert big.status_code == 413
