"""Schemathesis over the OpenAPI schema: generated requests get no 5xx and answers that match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from credit_points.api.app import create_app
from credit_points.api.settings import ApiSettings
from credit_points.audit.keys import SCOPES, ApiKeyStore

pytestmark = pytest.mark.slow


def test_generated_requests_get_no_5xx_and_conform_to_the_schema(tmp_path, fake) -> None:
    # given the app over a fresh store, the fake service and a key holding every scope
    app = create_app(
        ApiSettings(audit_url=f"sqlite:///{tmp_path / 'audit.db'}"), service=fake.FakeDecisionService()
    )
    app.state.ctx.open()
    _, key = ApiKeyStore(app.state.ctx.store).create("schemathesis", SCOPES)
    headers = {"Authorization": f"Bearer {key}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 13
    seen: dict[str, set[int]] = {}

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            # when schemathesis sends what the schema allows (and, for bodies, what it does not)
            response = case.call(headers=headers)
            seen.setdefault(case.operation.label, set()).add(response.status_code)
            # then no server error, and the answer matches the documented status codes, types and schemas
            assert response.status_code < 500, (case.operation.label, response.text)
            # (the applicant's check digit and cross-field rules cannot be expressed in JSON Schema, so a
            # schema-valid body may rightly be refused: that one check is left out)
            case.validate_response(response, excluded_checks=[schemathesis.checks.positive_data_acceptance])

        check()
    assert set(seen) == {op.label for op in operations}
