"""Authentication and scopes: 401 without or with a bad key, 403 without the scope; neither creates anything."""

from __future__ import annotations

import time

import pytest

from credit_points.audit.keys import ApiKeyStore

ENDPOINTS = [
    ("post", "/v1/decisions", "decision:write"),
    ("post", "/v1/decisions/batch", "decision:write"),
    ("post", "/v1/points", "decision:write"),
    ("get", "/v1/decisions/{id}", "decision:read"),
    ("get", "/v1/decisions/{id}/report?format=json", "report:read"),
    ("post", "/v1/decisions/{id}/override", "decision:override"),
    ("get", "/v1/model", "decision:read"),
    ("post", "/admin/reload", "admin"),
]


def _call(api, method: str, path: str, headers: dict[str, str], decision_id: str, applicant):
    url = path.format(id=decision_id)
    if method == "get":
        return api.client.get(url, headers=headers)
    body = {"applicants": [applicant()]} if url.endswith("batch") else applicant()
    if url.endswith("override"):
        body = {"reason_code": "O04", "reason": "r", "new_values": {"decision": "decline"}}
    if url.endswith("reload"):
        body = {"model_uri": "models:/x/1"}
    return api.client.post(url, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_missing_bad_and_unscoped_keys_are_refused_and_create_nothing(
    make_api, new_applicant, method, path, scope
) -> None:
    api = make_api()
    first = api.client.post("/v1/decisions", json=new_applicant(), headers=api.headers())
    decision_id = first.json()["decision_id"]
    rows, calls, reloads = api.store.count(), api.service.decide_calls, len(api.service.reloads)
    other_scope = next(s for s in ("decision:read", "decision:write", "admin") if s != scope)
    cases = {
        401: [{}, {"Authorization": "Bearer cpk_000000000000_" + "A" * 43}, {"X-API-Key": "not-a-key"}],
        403: [api.headers(other_scope)],
    }
    for status, header_sets in cases.items():
        for headers in header_sets:
            # when called without the right credentials
            response = _call(api, method, path, headers, decision_id, new_applicant)
            # then refused with the right status and one error shape, and nothing ran or was stored
            assert response.status_code == status, (headers, response.text)
            assert set(response.json()) == {"error", "message", "correlation_id"}
            if status == 401:
                assert response.headers["www-authenticate"] == "Bearer"
    assert (api.store.count(), api.service.decide_calls, len(api.service.reloads)) == (rows, calls, reloads)
    # and the key with exactly that scope is admitted
    assert _call(api, method, path, api.headers(scope), decision_id, new_applicant).status_code < 400


def test_auth_is_checked_before_the_body_is_parsed(make_api) -> None:
    api = make_api()
    response = api.client.post(
        "/v1/decisions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    response = api.client.post("/v1/decisions", content=b"{not json", headers=api.headers("decision:read"))
    assert response.status_code == 403


def test_a_revoked_key_stops_working(make_api) -> None:
    api = make_api(api_key_cache_s=0)
    assert api.client.get("/v1/model", headers=api.headers("decision:read")).status_code == 200
    keys = ApiKeyStore(api.store)
    key_id = api.keys["decision:read"].split("_")[1]
    assert keys.revoke(key_id=key_id) == 1
    assert api.client.get("/v1/model", headers=api.headers("decision:read")).status_code == 401


def test_a_key_revoked_elsewhere_stops_working_within_the_cache_time(make_api) -> None:
    # given a worker that remembers accepted keys for 0.5 s, and a key it has just accepted
    api = make_api(api_key_cache_s=0.5)
    headers = api.headers("decision:read")
    assert api.client.get("/v1/model", headers=headers).status_code == 200
    # when another process (the CLI) revokes it
    assert ApiKeyStore(api.store).revoke(key_id=api.keys["decision:read"].split("_")[1]) == 1
    revoked_at = time.monotonic()
    # then it is refused once the cache time has passed, and never accepted again
    while api.client.get("/v1/model", headers=headers).status_code == 200:
        assert time.monotonic() - revoked_at < 0.5 + 0.5, "the revoked key outlived the cache time"
        time.sleep(0.05)
    assert api.client.get("/v1/model", headers=headers).status_code == 401


def test_health_and_metrics_need_no_key(make_api) -> None:
    api = make_api()
    assert api.client.get("/livez").status_code == 200
    assert api.client.get("/readyz").status_code == 200
    assert api.client.get("/metrics").status_code == 200
