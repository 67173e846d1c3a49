"""Which model every API worker serves, in the audit database: published generations and worker heartbeats.

A reload happens in one worker process; the others learn of it here. ``<prefix>model_generations`` is
append-only: each row is a *generation*, a concrete registry version (name, version, artifact hash) that a
worker validated and swapped in, with who asked and under which configured model URI. Every worker checks
the newest generation every ``model_sync_s`` seconds and swaps in its version when it differs from its own
(``api.sync``), and reports what it serves in ``<prefix>serving_workers`` (one row per worker, updated in
place: a heartbeat, not a record). ``GET /v1/model`` lists the live workers; ``POST /admin/reload`` waits
until each of them reports the new generation.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from credit_points.audit.store import AuditStore
from credit_points.exceptions import AuditError


@dataclass(frozen=True)
class Generation:
    """One published model: what every worker converges on."""

    generation: int
    model_name: str
    model_version: str
    artifact_hash: str
    configured_uri: str
    requested_by: str
    created_at: str

    def identity(self) -> dict[str, str]:
        return {"name": self.model_name, "version": self.model_version, "artifact_hash": self.artifact_hash}


class ServingStore:
    """Generations and worker heartbeats in the audit database of ``store`` (same URL, same prefix)."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store
        self.metadata = sa.MetaData()
        prefix = store.prefix
        self.generations = sa.Table(
            f"{prefix}model_generations",
            self.metadata,
            sa.Column(
                "generation",
                sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            sa.Column("model_name", sa.String(200), nullable=False),
            sa.Column("model_version", sa.String(64), nullable=False),
            sa.Column("artifact_hash", sa.String(64), nullable=False),
            sa.Column("configured_uri", sa.String(500), nullable=False),
            sa.Column("requested_by", sa.String(100), nullable=False),
            sa.Column("created_at", sa.String(40), nullable=False),
        )
        self.workers = sa.Table(
            f"{prefix}serving_workers",
            self.metadata,
            sa.Column("worker_id", sa.String(200), primary_key=True),
            sa.Column("generation", sa.BigInteger, nullable=False),
            sa.Column("model_version", sa.String(64), nullable=False),
            sa.Column("artifact_hash", sa.String(64), nullable=False),
            sa.Column("state", sa.String(40), nullable=False),
            sa.Column("started_at", sa.String(40), nullable=False),
            sa.Column("seen_at", sa.String(40), nullable=False),
            sa.Column("seen_epoch", sa.Double, nullable=False),
        )

    def create_schema(self) -> None:
        """Create the audit tables and these two (generations append-only); safe to repeat."""
        self.store.create_schema()
        try:
            with self.store.locked_write() as conn:
                self.metadata.create_all(conn)
                self.store.append_only(conn, self.generations.name)
        except sa.exc.SQLAlchemyError as exc:
            raise self._failed("cannot create the serving tables", exc) from None

    def drop_schema(self) -> None:
        """Drop the tables (throwaway test stores only)."""
        with self.store.engine.begin() as conn:
            self.metadata.drop_all(conn)
            if self.store.dialect == "postgresql":
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {self.generations.name}_reject_change()")

    def latest(self) -> Generation | None:
        """The newest published generation, or None before the first."""
        g = self.generations
        try:
            with self.store.engine.connect() as conn:
                row = conn.execute(sa.select(g).order_by(g.c.generation.desc()).limit(1)).mappings().first()
        except sa.exc.SQLAlchemyError as exc:
            raise self._failed("cannot read the model generation", exc) from None
        return Generation(**row) if row is not None else None

    def publish(self, identity: Mapping[str, str], *, configured_uri: str, requested_by: str) -> Generation:
        """Append a generation for the model ``identity`` (``name``, ``version``, ``artifact_hash``)."""
        values = {
            "model_name": str(identity["name"]),
            "model_version": str(identity["version"]),
            "artifact_hash": str(identity["artifact_hash"]),
            "configured_uri": configured_uri,
            "requested_by": requested_by,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        try:
            with self.store.locked_write() as conn:
                inserted = conn.execute(sa.insert(self.generations).values(**values)).inserted_primary_key
        except sa.exc.SQLAlchemyError as exc:
            raise self._failed("cannot publish the model generation", exc) from None
        assert inserted is not None  # an autoincrement key
        return Generation(generation=int(inserted[0]), **values)

    def beat(
        self, worker_id: str, *, generation: int, identity: Mapping[str, str], state: str, started_at: str
    ) -> None:
        """Record what ``worker_id`` serves now (a committed write: it also proves the store takes writes)."""
        now = time.time()
        values = {
            "generation": generation,
            "model_version": str(identity.get("version", "")),
            "artifact_hash": str(identity.get("artifact_hash", "")),
            "state": state,
            "started_at": started_at,
            "seen_at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
            "seen_epoch": now,
        }
        w = self.workers
        try:
            with self.store.engine.begin() as conn:
                updated = conn.execute(sa.update(w).where(w.c.worker_id == worker_id).values(**values))
                if not updated.rowcount:
                    conn.execute(sa.insert(w).values(worker_id=worker_id, **values))
        except sa.exc.SQLAlchemyError as exc:
            raise self._failed("cannot record the worker's heartbeat", exc) from None

    def live_workers(self, within_s: float) -> list[dict[str, Any]]:
        """The workers seen in the last ``within_s`` seconds, by id."""
        w = self.workers
        stmt = sa.select(w).where(w.c.seen_epoch >= time.time() - within_s).order_by(w.c.worker_id)
        try:
            with self.store.engine.connect() as conn:
                rows = conn.execute(stmt).mappings().all()
        except sa.exc.SQLAlchemyError as exc:
            raise self._failed("cannot read the worker heartbeats", exc) from None
        return [{k: v for k, v in row.items() if k != "seen_epoch"} for row in rows]

    def _failed(self, what: str, exc: BaseException) -> AuditError:
        detail = type(getattr(exc, "orig", None) or exc).__name__
        return AuditError(f"{what} ({detail}) at {self.store.safe_url}")
