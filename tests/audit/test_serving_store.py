"""The serving tables on SQLite and PostgreSQL: generations append-only, heartbeats in place, live workers."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from credit_points.audit.serving import ServingStore
from credit_points.audit.store import AuditStore

MODEL_A = {"name": "credit-points", "version": "3", "artifact_hash": "a" * 64}
MODEL_B = {"name": "credit-points", "version": "4", "artifact_hash": "b" * 64}


@pytest.fixture
def serving(store: AuditStore):
    s = ServingStore(store)
    s.create_schema()
    s.create_schema()  # every worker creates it at start: safe to repeat
    yield s
    if store.dialect == "postgresql":
        s.drop_schema()


def test_generations_count_up_and_the_newest_is_what_every_worker_follows(serving: ServingStore) -> None:
    assert serving.latest() is None
    first = serving.publish(MODEL_A, configured_uri="models:/credit-points@champion", requested_by="start-up")
    second = serving.publish(
        MODEL_B, configured_uri="models:/credit-points@champion", requested_by="0a1b2c3d4e5f"
    )
    assert second.generation > first.generation
    latest = serving.latest()
    assert latest == second and latest.identity() == MODEL_B
    assert latest.requested_by == "0a1b2c3d4e5f"


def test_a_published_generation_cannot_be_changed_or_deleted(serving: ServingStore) -> None:
    serving.publish(MODEL_A, configured_uri="models:/credit-points@champion", requested_by="start-up")
    g = serving.generations
    for stmt in (sa.update(g).values(model_version="99"), sa.delete(g)):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), serving.store.engine.begin() as conn:
            conn.execute(stmt)
    assert serving.latest().model_version == "3"


def test_heartbeats_update_one_row_per_worker_and_only_recent_ones_are_live(serving: ServingStore) -> None:
    serving.beat("host:1", generation=1, identity=MODEL_A, state="serving", started_at="t0")
    serving.beat("host:2", generation=1, identity=MODEL_A, state="serving", started_at="t0")
    serving.beat("host:1", generation=2, identity=MODEL_B, state="serving", started_at="t0")
    live = serving.live_workers(within_s=60)
    assert [(w["worker_id"], w["generation"], w["model_version"]) for w in live] == [
        ("host:1", 2, "4"),
        ("host:2", 1, "3"),
    ]
    with serving.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(serving.workers)).scalar() == 2
    time.sleep(1.1)
    serving.beat("host:2", generation=2, identity=MODEL_B, state="serving", started_at="t0")
    assert [w["worker_id"] for w in serving.live_workers(within_s=1.0)] == ["host:2"]
