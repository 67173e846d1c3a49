"""Strict input: 422 naming the field without echoing values, 413 before parsing, 500 with only a correlation id."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import pytest

from credit_points.datasets.uscc import check_digit


def _assert_refused(api, response, field: str, *, rows: int = 0, calls: int = 0) -> dict:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error" and body["correlation_id"] == response.headers["x-request-id"]
    assert any(field in e["field"] or field in e["message"] for e in body["errors"]), body
    assert api.store.count() == rows and api.service.decide_calls == calls
    return body


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_refused_naming_the_field(make_api, new_applicant, literal) -> None:
    api = make_api()
    text = json.dumps(new_applicant()).replace('"revenue": 12500000.0', f'"revenue": {literal}')
    assert literal in text
    response = api.client.post(
        "/v1/decisions", content=text, headers=api.headers(**{"Content-Type": "application/json"})
    )
    body = _assert_refused(api, response, "revenue")
    assert [e["type"] for e in body["errors"]] == ["finite_number"]


@pytest.mark.parametrize("text", ["NaN", "nan", "Infinity", "-inf", "1e999"])
def test_nan_and_infinity_strings_are_refused(make_api, new_applicant, text) -> None:
    api = make_api()
    response = api.client.post("/v1/decisions", json=new_applicant(total_assets=text), headers=api.headers())
    _assert_refused(api, response, "total_assets")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"revenue": -1.0}, "revenue"),
        ({"rd_expense": 20_000_000.0}, "rd_expense"),  # R&D above revenue
        ({"tax_credit_grade": "E"}, "tax_credit_grade"),
        ({"as_of_date": (date.today() + timedelta(days=3)).isoformat()}, "as_of_date"),
        ({"employees": 10.5}, "employees"),
        ({"surprise_field": 1}, "surprise_field"),
        ({"default_12m": 0}, "default_12m"),  # the outcome is never an input
    ],
)
def test_out_of_range_unknown_and_extra_fields_are_refused(make_api, new_applicant, changes, field) -> None:
    api = make_api()
    response = api.client.post("/v1/decisions", json=new_applicant(**changes), headers=api.headers())
    _assert_refused(api, response, field)


def test_a_bad_credit_code_is_refused_without_echoing_it_or_the_name(make_api, new_applicant) -> None:
    api = make_api()
    good = new_applicant()["firm_id"]
    bad = good[:-1] + next(c for c in "0123456789" if c != check_digit(good[:17]))
    response = api.client.post("/v1/decisions", json=new_applicant(firm_id=bad), headers=api.headers())
    _assert_refused(api, response, "firm_id")
    assert bad not in response.text and new_applicant()["name"] not in response.text


def test_no_422_body_echoes_any_submitted_value(make_api, new_applicant) -> None:
    api = make_api()
    body = new_applicant(zone="ZONE-CANARY-77", industry_code="zz-CANARY", revenue="REV-CANARY", employees=-5)
    response = api.client.post("/v1/decisions", json=body, headers=api.headers())
    assert response.status_code == 422
    for value in ("ZONE-CANARY-77", "zz-CANARY", "REV-CANARY", body["name"], body["firm_id"]):
        assert value not in response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"industry_code", "revenue", "employees"} <= fields


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"{not json", "invalid_json"),
        (b"", "validation_error"),
        (b"[1, 2]", "validation_error"),
        (b'{"revenue": 1, "revenue": 2}', "validation_error"),
    ],
)
def test_malformed_bodies_are_422(make_api, content, error) -> None:
    api = make_api()
    response = api.client.post(
        "/v1/decisions", content=content, headers=api.headers(**{"Content-Type": "application/json"})
    )
    assert response.status_code == 422 and response.json()["error"] == error
    assert api.service.decide_calls == 0


def test_a_non_json_media_type_is_415(make_api) -> None:
    api = make_api()
    response = api.client.post(
        "/v1/decisions",
        content=b"a=1",
        headers=api.headers(**{"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert response.status_code == 415


def test_a_body_over_the_limit_is_413_before_parsing(make_api, new_applicant) -> None:
    api = make_api(max_body_bytes=4096)
    padded = json.dumps(new_applicant()) + " " * 5000  # valid JSON, just too large
    response = api.client.post(
        "/v1/decisions", content=padded, headers=api.headers(**{"Content-Type": "application/json"})
    )
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"
    assert api.service.decide_calls == 0 and api.store.count() == 0


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(make_api) -> None:
    api = make_api(max_body_bytes=4096)

    def chunks():
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = api.client.post(
        "/v1/decisions", content=chunks(), headers=api.headers(**{"Content-Type": "application/json"})
    )
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413
    assert api.service.decide_calls == 0


def test_an_unexpected_error_is_500_with_only_a_correlation_id(make_api, new_applicant, fake, caplog) -> None:
    api = make_api()
    payload = new_applicant(firm_id=fake.FAIL_FIRM_ID)
    response = api.client.post(
        "/v1/decisions", json=payload, headers=api.headers(**{"X-Request-ID": "req-500-test"})
    )
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"error", "message", "correlation_id"} and body["correlation_id"] == "req-500-test"
    assert "Traceback" not in response.text and "exploded" not in response.text
    assert payload["name"] not in response.text and payload["firm_id"] not in response.text
    assert api.store.count() == 0
    # the server log has the traceback under the same id, scrubbed of the name and the credit code
    assert "req-500-test" in caplog.text and "RuntimeError" in caplog.text
    assert payload["name"] not in caplog.text and payload["firm_id"] not in caplog.text


def test_engine_refusals_are_422_naming_the_field(make_api, new_applicant, fake) -> None:
    from credit_points.exceptions import DataValidationError

    class Refusing(fake.FakeDecisionService):
        def decide(self, applicants):
            raise DataValidationError("must be a known zone", field="zone", value=applicants[0]["zone"])

    api = make_api(service=Refusing())
    response = api.client.post("/v1/decisions", json=new_applicant(zone="ZONE-SECRET"), headers=api.headers())
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "zone"
    assert "ZONE-SECRET" not in response.text and api.store.count() == 0


def test_floats_in_the_answer_are_exact(make_api, new_applicant, fake) -> None:
    api = make_api()
    payload = new_applicant(max_overdue_days_24m=17, invention_patents_valid=3)
    body = api.client.post("/v1/decisions", json=payload, headers=api.headers()).json()
    expected = fake.fake_prob_default(payload)
    assert body["record"]["risk"]["prob_default"].hex() == expected.hex()
    assert body["prob_default"].hex() == expected.hex() and math.isfinite(body["limit"])


def test_the_log_scrubber_is_process_wide_and_removable(make_api, caplog) -> None:
    import logging

    from credit_points.api.redaction import uninstall_log_redaction

    make_api()  # building an app installs it
    logging.getLogger("some.library").warning("calling %s for 91430100MA4L0XQJ35", "长沙示例智能科技有限公司")
    assert (
        "91430100MA4L0XQJ35" not in caplog.text and "[USCC]" in caplog.text and "[ENTERPRISE]" in caplog.text
    )
    uninstall_log_redaction()
    logging.getLogger("some.library").warning("raw 91430100MA4L0XQJ35")
    assert "raw 91430100MA4L0XQJ35" in caplog.text


def test_a_record_the_store_refuses_is_a_500_not_the_clients_fault(make_api, new_applicant, fake) -> None:
    class Broken(fake.FakeDecisionService):
        def _decide_one(self, applicant):
            record = super()._decide_one(applicant)
            record["risk"]["prob_default"] = float("nan")
            return record

    api = make_api(service=Broken())
    response = api.client.post("/v1/decisions", json=new_applicant(), headers=api.headers())
    assert response.status_code == 500 and set(response.json()) == {"error", "message", "correlation_id"}
    assert api.store.count() == 0
