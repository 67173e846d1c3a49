"""Contract of every endpoint over real HTTP with the real engine: answers equal the audit rows.

One ``credit-points serve`` process for the module (the trained model, its own audit store).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from credit_points.audit.store import AuditStore
from credit_points.datasets import uscc

# a story told in order: make test runs each file on one xdist worker (--dist loadfile)
pytestmark = pytest.mark.slow


def _store(server: Any) -> AuditStore:
    return AuditStore(server.audit_url)


def _decide(server: Any, applicant: dict[str, Any], **headers: str) -> Any:
    return server.client().post("/v1/decisions", json=applicant, headers=server.headers(**headers))


def test_a_decision_answers_exactly_the_audit_row_and_names_one_version(
    server, applicants, trained_model
) -> None:
    # given a real applicant
    applicant = applicants[0]
    # when it is decided
    response = _decide(server, applicant)
    # then 201, and every number in the answer is the committed audit row's
    assert response.status_code == 201, response.text
    body = response.json()
    store = _store(server)
    row = store.get(body["decision_id"])
    assert row is not None and row.kind == "decision"
    assert body["record"] == row.record
    assert body["row_hash"] == row.row_hash
    assert body["prob_default"] == row.record["risk"]["prob_default"]
    assert body["limit"] == row.record["limit"]["limit"]
    assert body["decision"] == row.record["decision"] == row.decision
    # and exactly one concrete model version everywhere
    assert response.headers["X-Model-Version"] == body["model_version"] == row.record["model"]["version"]
    assert body["model_version"] == trained_model.version
    assert row.record["model"]["artifact_hash"] == trained_model.artifact_hash
    assert response.headers["Location"] == f"/v1/decisions/{body['decision_id']}"
    # and the stored input is the applicant that was sent
    assert row.record["input"]["firm_id"] == applicant["firm_id"]
    # and GET returns the stored decision byte for byte
    got = server.client().get(f"/v1/decisions/{body['decision_id']}", headers=server.headers())
    assert got.status_code == 200
    assert got.json()["record"] == row.record
    assert got.headers["X-Model-Version"] == trained_model.version
    store.dispose()


def test_a_batch_decides_good_rows_and_reports_each_bad_row(server, applicants, trained_model) -> None:
    # given three applicants, the middle one with negative revenue and one with a bad check digit
    good = applicants[1:4]
    bad_revenue = {**applicants[4], "revenue": -1.0}
    code = applicants[5]["firm_id"]
    bad_code = {**applicants[5], "firm_id": code[:-1] + next(c for c in "0123456789" if c != code[-1])}
    batch = [good[0], bad_revenue, good[1], bad_code, good[2]]
    # when the batch is sent
    response = server.client().post(
        "/v1/decisions/batch", json={"applicants": batch}, headers=server.headers()
    )
    # then the good rows are decided and stored, the bad rows named with their field, nothing echoed
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["n_ok"], body["n_error"]) == (3, 2)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["ok", "error", "ok", "error", "ok"]
    assert [e["field"] for e in body["results"][1]["errors"]] == ["revenue"]
    assert [e["field"] for e in body["results"][3]["errors"]] == ["firm_id"]
    assert bad_code["firm_id"] not in response.text.replace(code, "")
    store = _store(server)
    for result, applicant in zip([body["results"][i] for i in (0, 2, 4)], good, strict=True):
        decision = result["decision"]
        row = store.get(decision["decision_id"])
        assert row is not None and decision["record"] == row.record
        assert row.record["input"]["firm_id"] == applicant["firm_id"]
        assert decision["model_version"] == row.model_version == trained_model.version
    store.dispose()


@pytest.mark.parametrize("fmt", ["html", "pdf", "json"])
def test_reports_render_from_the_audit_row_in_both_languages(server, applicants, fmt) -> None:
    # given a stored decision
    decided = _decide(server, applicants[6]).json()
    store = _store(server)
    row = store.get(decided["decision_id"])
    store.dispose()
    for lang in ("zh", "en"):
        # when its report is asked for
        response = server.client().get(
            f"/v1/decisions/{decided['decision_id']}/report",
            params={"format": fmt, "lang": lang},
            headers=server.headers(),
        )
        # then it renders, in the right media type, from the stored row
        assert response.status_code == 200, response.text
        if fmt == "pdf":
            assert response.headers["content-type"] == "application/pdf"
            assert response.content.startswith(b"%PDF-")
        elif fmt == "html":
            assert response.headers["content-type"].startswith("text/html")
            text = response.text
            assert "<html" in text.lower() and decided["decision_id"] in text
        else:
            report = response.json()
            assert report["lang"] == lang
            stored = {k: v for k, v in report["record"].items() if k != "audit"}
            assert stored == row.record  # the report's numbers are the audit row's
            assert report["record"]["audit"]["row_hash"] == row.row_hash


def test_an_override_is_a_linked_row_and_the_original_stays_identical(server, applicants) -> None:
    # given a stored decision
    decided = _decide(server, applicants[7]).json()
    store = _store(server)
    before = store.get(decided["decision_id"])
    # when an officer overrides it
    override = (
        {"reason_code": "O08", "reason": "exception within authority", "new_values": {"decision": "refer"}}
        if decided["decision"] == "decline"
        else {"reason_code": "O05", "reason": "due diligence", "new_values": {"decision": "decline"}}
    )
    # (an override above the product's cap, from the version the decision pins, is refused first)
    too_big = {"reason_code": "O01", "reason": "collateral", "new_values": {"limit": 20_000_000}}
    refused = server.client().post(
        f"/v1/decisions/{decided['decision_id']}/override", json=too_big, headers=server.headers()
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "new_values.limit"
    response = server.client().post(
        f"/v1/decisions/{decided['decision_id']}/override", json=override, headers=server.headers()
    )
    # then a new linked row; the original row is unchanged and GET lists the override
    assert response.status_code == 201, response.text
    assert response.json()["parent_id"] == decided["decision_id"]
    after = store.get(decided["decision_id"])
    assert (after.row_hash, after.record) == (before.row_hash, before.record)
    got = server.client().get(f"/v1/decisions/{decided['decision_id']}", headers=server.headers()).json()
    assert [o["decision_id"] for o in got["overrides"]] == [response.json()["decision_id"]]
    store.dispose()


def test_points_alone_equal_the_decisions_points_and_store_nothing(server, applicants, audit_rows) -> None:
    # given an applicant decided once
    decided = _decide(server, applicants[8]).json()
    rows = audit_rows()
    # when only its points are asked for
    response = server.client().post("/v1/points", json=applicants[8], headers=server.headers())
    # then the same stage and totals as the decision, and no row written
    assert response.status_code == 200, response.text
    points = response.json()
    points = points[0] if isinstance(points, list) else points.get("points", points)
    recorded = decided["record"]["points"]
    assert points["stage"] == recorded["stage"]
    for key in ("total", "core", "bonus", "deductions"):
        assert points[key] == recorded[key]
    assert audit_rows() == rows


def test_model_card_names_the_concrete_version_and_hashes(server, trained_model) -> None:
    response = server.client().get("/v1/model", headers=server.headers())
    assert response.status_code == 200
    card = response.json()
    assert card["version"] == response.headers["X-Model-Version"] == trained_model.version
    assert card["artifact_hash"] == trained_model.artifact_hash
    assert card["name"] == "credit-points"
    for key in ("points", "pd_model"):
        assert card["configs"][key]["hash"]
    assert "windows" in card and card["windows"]["out_of_time"][0] > card["windows"]["train"][1]
    assert 0.5 < card["validation"]["auc"] <= 1.0


def _metric_sum(text: str, name: str, label: str = "") -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and label in line
    )


def test_health_and_metrics_count_what_the_store_holds(server, applicants) -> None:
    client = server.client()
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert all(check["ok"] for check in ready.json()["checks"])
    assert (
        ready.json()["model_version"] == client.get("/v1/model", headers=server.headers()).json()["version"]
    )
    assert _decide(server, applicants[12]).status_code == 201
    text = client.get("/metrics").text
    store = _store(server)
    # every row this server committed is counted once, by kind; decisions by outcome add up to them
    assert _metric_sum(text, "credit_points_audit_rows_written_total", 'kind="decision"') == store.count(
        "decision"
    )
    assert _metric_sum(text, "credit_points_audit_rows_written_total", 'kind="override"') == store.count(
        "override"
    )
    assert _metric_sum(text, "credit_points_decisions_total") == store.count("decision") > 0
    assert 'route="/v1/decisions/{decision_id}"' in text  # route templates, never raw ids
    store.dispose()


def test_reload_of_the_configured_model_keeps_one_version_and_a_bad_folder_is_refused(
    server, trained_model, tmp_path
) -> None:
    client = server.client()
    # when the configured model is reloaded
    response = client.post("/admin/reload", headers=server.headers())
    # then the same concrete version serves
    assert response.status_code == 200, response.text
    assert response.json()["current"]["version"] == trained_model.version
    # when asked to load a folder that is not a bundle, or a version that does not exist
    for uri in (str(tmp_path), "models:/credit-points/999999"):
        refused = client.post("/admin/reload", json={"model_uri": uri}, headers=server.headers())
        # then refused, and the old model keeps serving
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "reload_refused"
    assert client.get("/v1/model", headers=server.headers()).json()["version"] == trained_model.version


def test_idempotency_same_key_same_body_one_row_other_body_refused(server, applicants, audit_rows) -> None:
    # given an Idempotency-Key used once
    first = _decide(server, applicants[9], **{"Idempotency-Key": "loan-2026-000123"})
    assert first.status_code == 201
    rows = audit_rows()
    # when the same body comes again with the same key (keys in another order)
    reordered = dict(reversed(list(applicants[9].items())))
    again = _decide(server, reordered, **{"Idempotency-Key": "loan-2026-000123"})
    # then the same decision, no new row
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["decision_id"] == first.json()["decision_id"]
    assert again.json()["record"] == first.json()["record"]
    assert audit_rows() == rows
    # when another body comes with the same key
    other = _decide(server, applicants[10], **{"Idempotency-Key": "loan-2026-000123"})
    # then refused, and still no new row
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency_key_reused"
    assert audit_rows() == rows


CANARY_NAME = "琥珀鸬鹚泄露探针微电子有限公司"


def canary_code() -> str:
    """A valid credit code that appears nowhere else (a fixed body with its GB 32100 check digit)."""
    body = "91330106MA7QXK3W2"
    return body + uscc.check_digit(body)


def test_canary_name_code_and_keys_never_reach_logs_or_error_bodies(server, applicants) -> None:
    client = server.client()
    code = canary_code()
    canary = {**copy.deepcopy(applicants[11]), "name": CANARY_NAME, "firm_id": code}
    # given a decision carrying the canary, a bad key, and a 422 carrying the canary
    decided = client.post("/v1/decisions", json=canary, headers=server.headers())
    assert decided.status_code == 201, decided.text
    bad_key = "cpk_" + "Zq7" * 12
    unauth = client.post("/v1/decisions", json=canary, headers={"Authorization": f"Bearer {bad_key}"})
    assert unauth.status_code == 401
    invalid = client.post("/v1/decisions", json={**canary, "revenue": "NaN"}, headers=server.headers())
    assert invalid.status_code == 422
    assert [e["field"] for e in invalid.json()["errors"]] == ["revenue"]
    report = client.get(
        f"/v1/decisions/{decided.json()['decision_id']}/report",
        params={"format": "xml"},
        headers=server.headers(),
    )
    assert report.status_code == 422
    # then no error body carries the name, the code or a key
    for response in (unauth, invalid, report):
        for secret in (CANARY_NAME, code, bad_key, server.key):
            assert secret not in response.text
    # and nothing the server wrote does
    log = server.log_text()
    assert "POST /v1/decisions" in log  # the log is there and has the requests
    for secret in (CANARY_NAME, code, bad_key, server.key, server.key[4:20]):
        assert secret not in log


def test_mlflow_artifacts_hold_no_training_names_or_credit_codes(trained_model) -> None:
    import re

    names = set(trained_model.applicants["name"].dropna().astype(str))
    codes = set(trained_model.applicants["firm_id"].dropna().astype(str))
    lengths = sorted({len(n) for n in names})
    code_pattern = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
    suffix = re.compile(r"有限公司|有限责任公司|公司")

    def found_in(text: str) -> set[str]:
        hits = set(code_pattern.findall(text)) & codes
        for match in suffix.finditer(text):  # every name ends in its legal form: look back from each one
            hits |= {text[match.end() - n : match.end()] for n in lengths} & names
        return hits

    files = [p for p in (trained_model.home / "mlruns").rglob("*") if p.is_file()]
    assert any(p.name == "booster.txt" for p in files) and any(p.suffix == ".db" for p in files)
    # the scan does find the training data's names and codes where they are
    sample = json.dumps(
        trained_model.applicants[["name", "firm_id"]].head(50).to_dict("records"), ensure_ascii=False
    )
    assert found_in(sample) & codes and found_in(sample) & names
    leaks = {}
    for path in files:
        found = found_in(path.read_bytes().decode("utf-8", errors="ignore"))
        if found:
            leaks[str(path.relative_to(trained_model.home))] = sorted(found)[:3]
    assert leaks == {}


def test_a_referral_answers_with_its_trigger_first_and_the_threshold(
    server, applicants, trained_model
) -> None:
    # given an applicant the model refers (found by deciding the sample with the same engine)
    from credit_points.records import decide_records

    local = decide_records(trained_model.engine, applicants)
    referred = [a for a, r in zip(applicants, local, strict=True) if r["decision"] in ("refer", "decline")]
    if not referred:
        pytest.skip("no refer or decline among the sample applicants")
    # when it is decided over HTTP
    response = _decide(server, referred[0])
    assert response.status_code == 201, response.text
    record = response.json()["record"]
    # then the answer names what decided it first, and a PD trigger carries the PD and the line it crossed
    trigger = record["trigger"]
    assert record["decision_logic"] == "2"
    assert record["reason_codes"][0]["code"] == trigger["code"]
    if trigger["kind"] in ("pd_refer_band", "pd_cutoff"):
        assert trigger["value"] == record["risk"]["prob_default"] > trigger["threshold"]
