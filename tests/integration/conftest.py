"""Fixtures of the integration tests that need a fresh audit store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from credit_points.audit.outcomes import OutcomeStore
from credit_points.audit.store import AuditStore

from ..audit.conftest import pg_url_or_skip


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_target(request: pytest.FixtureRequest, tmp_path: Path, trained_model):
    """(audit URL, environment) for a fresh store: its own SQLite file, or its own prefix on PostgreSQL;
    the environment points the command line at the session's model home and registered version."""
    env = {**trained_model.env(), "CREDIT_POINTS_MODEL_URI": f"models:/credit-points/{trained_model.version}"}
    if request.param == "sqlite":
        url, prefix = f"sqlite:///{tmp_path / 'audit.db'}", ""
    else:
        url, prefix = pg_url_or_skip(), f"s{uuid.uuid4().hex[:12]}_"
        env["CREDIT_POINTS_AUDIT_TABLE_PREFIX"] = prefix
    yield url, env
    store = AuditStore(url, table_prefix=prefix)
    if store.dialect == "postgresql":
        OutcomeStore(store).drop_schema()
        store.drop_schema()
    store.dispose()
