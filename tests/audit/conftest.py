"""Audit-store fixtures: every test runs against a SQLite file (WAL) and the local PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from credit_points.audit.store import AuditStore


def pg_url_or_skip() -> str:
    """The test PostgreSQL URL; skipped when absent outside CI, a failure under CI."""
    url = os.environ.get("CREDIT_POINTS_TEST_PG_URL")
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail("CREDIT_POINTS_TEST_PG_URL is not set under CI: start PostgreSQL (scripts/postgres.sh)")
    pytest.skip("CREDIT_POINTS_TEST_PG_URL not set (run `source scripts/postgres.sh && start_postgres`)")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[AuditStore]:
    """A fresh, empty audit store with its schema (own file, or own table prefix on PostgreSQL)."""
    if request.param == "sqlite":
        s = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    else:
        s = AuditStore(pg_url_or_skip(), table_prefix=f"t{uuid.uuid4().hex[:12]}_")
    s.create_schema()
    yield s
    if s.dialect == "postgresql":
        s.drop_schema()
    s.dispose()
