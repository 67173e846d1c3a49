"""Strict input over real HTTP: what a careless client or an attacker sends is refused, named, and not stored.

One ``credit-points serve`` process for the module (the trained model, its own SQLite audit store). Every
case answers 4xx naming the field, never echoes the value, and leaves the audit store unchanged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _post(server: Any, content: bytes, path: str = "/v1/decisions") -> Any:
    headers = server.headers(**{"Content-Type": "application/json"})
    return server.client().post(path, content=content, headers=headers)


def _refused(server: Any, audit_rows: Any, body: dict[str, Any]) -> dict[str, Any]:
    before = audit_rows()
    response = _post(server, json.dumps(body).encode())
    assert response.status_code == 422, response.text
    assert audit_rows() == before  # nothing stored
    return response.json()


@pytest.mark.parametrize(
    ("field", "value", "expected", "got"),
    [
        ("revenue", True, "a JSON number", "boolean"),
        ("revenue", "12500000", "a JSON number", "string"),
        ("employees", "48", "JSON integer", "string"),
        ("pboc_special_mention_or_npl", "yes", "a JSON boolean", "string"),
        ("pboc_special_mention_or_npl", "on", "a JSON boolean", "string"),
        ("pboc_special_mention_or_npl", 1, "a JSON boolean", "number"),
        ("capital_market", "n", "a JSON boolean", "string"),
    ],
)
def test_json_types_are_not_coerced(server, applicants, audit_rows, field, value, expected, got) -> None:
    # given a real applicant with one value of the wrong JSON type
    body = {**applicants[0], field: value}
    # when it is posted, then it is refused naming the field, the JSON type sent and what was expected
    errors = _refused(server, audit_rows, body)["errors"]
    assert [e["field"] for e in errors] == [field]
    assert expected in errors[0]["message"] and f"got a JSON {got}" in errors[0]["message"]


def test_a_whole_number_sent_as_48_point_0_is_an_integer(server, applicants) -> None:
    body = {**applicants[1], "employees": float(applicants[1]["employees"])}
    response = _post(server, json.dumps(body).encode())
    assert response.status_code == 201, response.text
    assert response.json()["record"]["input"]["employees"] == applicants[1]["employees"]


def test_a_utf16_body_is_refused(server, applicants, audit_rows) -> None:
    before = audit_rows()
    response = _post(server, json.dumps(applicants[2]).encode("utf-16"))
    assert response.status_code == 422 and response.json()["error"] == "invalid_json"
    assert "UTF-8" in response.json()["message"]
    assert audit_rows() == before


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"existing_bank_debt": 5e7, "total_liabilities": 6e6}, "existing_bank_debt", "total_liabilities"),
        ({"existing_bank_debt": 1e308}, "existing_bank_debt", "above the maximum"),
        ({"revenue": 1e308}, "revenue", "above the maximum"),
        ({"net_profit": -1e308}, "net_profit", "below the minimum"),
        ({"net_profit": -5e8, "revenue": 1e6, "total_assets": 2e6}, "net_profit", "loss larger than"),
        ({"name": "名" * 201}, "name", "longer than 200 characters"),
        ({"name": "x" * 300_000}, "name", "longer than 200 characters"),
        ({"zone": "z" * 65}, "zone", "longer than 64 characters"),
    ],
)
def test_impossible_figures_and_unbounded_text_are_refused(
    server, applicants, audit_rows, changes, field, words
) -> None:
    body = {**applicants[3], **changes}
    if "existing_unsecured_debt" in body and "existing_bank_debt" in changes:
        body["existing_unsecured_debt"] = min(body["existing_unsecured_debt"], body["existing_bank_debt"])
    errors = _refused(server, audit_rows, body)["errors"]
    mine = [e for e in errors if e["field"] == field]
    assert mine and words in mine[0]["message"], errors
    assert all(str(v) not in json.dumps(errors) for v in changes.values() if isinstance(v, str))


@pytest.mark.parametrize("where", ["revenue", "unknown_field"])
def test_a_huge_integer_literal_is_a_422_naming_the_field(server, applicants, audit_rows, where) -> None:
    # given an integer literal of 5,000 digits, in a known field or an unknown one
    text = json.dumps({**applicants[4], where: 0}).replace(f'"{where}": 0', f'"{where}": {"9" * 5000}')
    before = audit_rows()
    log_before = len(server.log_text())
    response = _post(server, text.encode())
    # then 422 naming that field, nothing stored, and no traceback in the log
    assert response.status_code == 422, response.text
    assert where in [e["field"] for e in response.json()["errors"]]
    assert audit_rows() == before
    assert "Traceback" not in server.log_text()[log_before:]


def test_the_error_answer_stays_small_however_many_unknown_keys(server, applicants, audit_rows) -> None:
    # given a ~1 MB body of 100,000 unknown keys
    body = {**applicants[5], **{f"_{np.base_repr(i, 36)}": 0 for i in range(100_000)}}
    content = json.dumps(body, separators=(",", ":")).encode()
    assert 900_000 < len(content) < 1_000_000
    before = audit_rows()
    response = server.client().post(
        "/v1/decisions",
        content=content,
        headers=server.headers(**{"Content-Type": "application/json"}),
    )
    # then a 422 whose answer is a few kilobytes: the first 20 problems and a count of the rest
    assert response.status_code == 422, response.text[:300]
    assert len(response.content) < 8_000
    errors = response.json()["errors"]
    assert len(errors) == 21 and errors[-1]["type"] == "too_many_errors"
    assert "100000 in all" in errors[-1]["message"]
    assert audit_rows() == before


def test_a_batch_of_bad_items_gets_a_bounded_answer(server, applicants, audit_rows) -> None:
    # given a batch whose every item carries 2,000 unknown keys, and one good item
    noisy = {**applicants[6], **{f"k{i:05d}": 0 for i in range(2_000)}}
    body = {"applicants": [noisy] * 50 + [applicants[7]]}
    content = json.dumps(body).encode()
    before = audit_rows()
    response = _post(server, content, "/v1/decisions/batch")
    # then each bad item lists at most 20 problems and a count; the good item is decided and stored
    assert response.status_code == 200, response.text[:300]
    answer = response.json()
    assert answer["n_ok"] == 1 and answer["n_error"] == 50
    assert all(len(r["errors"]) == 21 for r in answer["results"][:50])
    assert len(response.content) < len(content) / 10
    assert audit_rows() == before + 1


def test_no_422_logs_a_traceback(server) -> None:
    # the cases above answered without an internal error; the server log has no traceback of them
    logging.getLogger(__name__).info("server log size %d", len(server.log_text()))
    assert "Traceback" not in server.log_text()


def test_a_zone_the_model_does_not_know_is_refused_naming_the_known_ones(
    server, applicants, audit_rows
) -> None:
    # given an applicant from a zone outside the model's reference population
    body = {**applicants[8], "zone": "atlantis_hitech"}
    # when posted alone, then 422 at the zone, naming the zones the model knows, without the value
    errors = _refused(server, audit_rows, body)["errors"]
    assert [e["field"] for e in errors] == ["zone"]
    assert applicants[8]["zone"] in errors[0]["message"] and "atlantis" not in json.dumps(errors)
    # and in a batch only that item is refused; its neighbour is decided and stored
    before = audit_rows()
    response = _post(
        server, json.dumps({"applicants": [body, applicants[9]]}).encode(), "/v1/decisions/batch"
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["error", "ok"]
    assert results[0]["errors"][0]["field"] == "zone"
    assert audit_rows() == before + 1
