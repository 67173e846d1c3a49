"""The shadow table of the audit database: what a challenger model would have decided, decision by decision.

A shadow model decides the same applicants as the champion, after the champion's answer, off the request
path. Its PD, grade, product, limit and decision are kept in ``<prefix>shadow_decisions``, keyed by the
champion's decision id and the shadow's model version, beside the decision chain and never in it: the
audited rows are not touched. One row per (decision, shadow version): writing the same shadow decision
again adds nothing. A shadow that could not decide an applicant leaves a row with its error, so a gap is
visible. Append-only on both engines (the same triggers as the audit log).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from credit_points.audit.store import AuditStore
from credit_points.exceptions import AuditError

#: the columns a shadow row carries besides its keys
SHADOW_PARTS = ("decision", "grade", "prob_default", "product", "limit")


class ShadowStore:
    """Shadow decisions in the audit database of ``store`` (same URL, same table prefix)."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store
        self.metadata = sa.MetaData()
        prefix = store.prefix
        self.table = sa.Table(
            f"{prefix}shadow_decisions",
            self.metadata,
            sa.Column(
                "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
            ),
            sa.Column("decision_id", sa.String(32), nullable=False, index=True),
            sa.Column("model_name", sa.String(200), nullable=False),
            sa.Column("model_version", sa.String(64), nullable=False),
            sa.Column("artifact_hash", sa.String(64), nullable=False),
            sa.Column("created_at", sa.String(40), nullable=False),
            sa.Column("decision", sa.String(16), nullable=True),
            sa.Column("grade", sa.String(8), nullable=True),
            sa.Column("prob_default", sa.Double, nullable=True),
            sa.Column("product", sa.String(64), nullable=True),
            sa.Column("limit", sa.Double, nullable=True),
            sa.Column("error", sa.Text, nullable=True),
            sa.UniqueConstraint("decision_id", "model_version", name=f"{prefix}shadow_decisions_key"),
        )

    def create_schema(self) -> None:
        """Create the audit tables and this one, append-only (safe to repeat)."""
        self.store.create_schema()
        try:
            with self.store.locked_write() as conn:
                self.metadata.create_all(conn)
                self.store.append_only(conn, self.table.name)
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(
                f"cannot create the shadow table ({type(exc).__name__}) at {self.store.safe_url}"
            ) from None

    def drop_schema(self) -> None:
        """Drop the table (throwaway test stores only)."""
        with self.store.engine.begin() as conn:
            self.metadata.drop_all(conn)
            if self.store.dialect == "postgresql":
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {self.table.name}_reject_change()")

    def append(self, identity: Mapping[str, str], rows: Sequence[Mapping[str, Any]]) -> int:
        """Store the shadow decisions of one model (``identity``: ``name``, ``version``, ``artifact_hash``);
        each row has ``decision_id`` and :data:`SHADOW_PARTS` or ``error``. Rows already stored for the same
        decision and version are left as they are; returns how many were added."""
        if not rows:
            return 0
        now = dt.datetime.now(dt.UTC).isoformat()
        fresh = {str(r["decision_id"]): r for r in rows}
        existing = self.stored_ids(fresh, str(identity["version"]))
        values = [
            {
                "decision_id": did,
                "model_name": str(identity["name"]),
                "model_version": str(identity["version"]),
                "artifact_hash": str(identity.get("artifact_hash", "")),
                "created_at": now,
                **{part: row.get(part) for part in SHADOW_PARTS},
                "error": row.get("error"),
            }
            for did, row in fresh.items()
            if did not in existing
        ]
        if not values:
            return 0
        try:
            with self.store.locked_write() as conn:
                conn.execute(sa.insert(self.table), values)
        except sa.exc.IntegrityError:  # written meanwhile by another process: keep what is there
            return 0
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(
                f"cannot store the shadow decisions ({type(exc).__name__}) at {self.store.safe_url}"
            ) from None
        return len(values)

    def stored_ids(self, decision_ids: Iterable[str], model_version: str) -> set[str]:
        """Which of these decisions already have a shadow row of ``model_version``."""
        ids = list(dict.fromkeys(decision_ids))
        t = self.table
        out: set[str] = set()
        with self.store.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                stmt = sa.select(t.c.decision_id).where(
                    t.c.model_version == model_version, t.c.decision_id.in_(ids[start : start + 500])
                )
                out.update(conn.execute(stmt).scalars())
        return out

    def frame(self, model_version: str | None = None) -> pd.DataFrame:
        """Every shadow row (of one shadow version when given), oldest first."""
        t = self.table
        stmt = sa.select(t).order_by(t.c.id)
        if model_version is not None:
            stmt = stmt.where(t.c.model_version == model_version)
        with self.store.engine.connect() as conn:
            return pd.DataFrame(conn.execute(stmt).mappings().all(), columns=[c.name for c in t.columns])


def shadow_rows(decision_ids: Sequence[str], decided: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Shadow rows from an engine's decided columns, one per decision id, in order."""
    return [
        {"decision_id": did, **parts} for did, parts in zip(decision_ids, decided_parts(decided), strict=True)
    ]


def decided_parts(decided: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The shadow parts of each row of an engine's decided columns (``decision``, ``grade``,
    ``prob_default``, ``product``, ``limit``: a frame or ``DecisionEngine.decide_columns``), in order."""
    import math

    def values(name: str) -> list[Any]:
        column = decided[name]
        return column.tolist() if hasattr(column, "tolist") else list(column)

    columns = zip(*(values(name) for name in SHADOW_PARTS), strict=True)
    return [
        {
            "decision": str(decision),
            "grade": str(grade),
            "prob_default": float(pd_),
            "product": product if isinstance(product, str) and product else None,
            "limit": float(limit) if limit is not None and math.isfinite(limit) else None,
        }
        for decision, grade, pd_, product, limit in columns
    ]


def record_parts(record: Mapping[str, Any]) -> dict[str, Any]:
    """The shadow parts of a decision record (as the API's decision service returns it)."""
    risk, offer = record.get("risk") or {}, record.get("limit") or {}
    return {
        "decision": record.get("decision"),
        "grade": risk.get("grade"),
        "prob_default": risk.get("prob_default"),
        "product": offer.get("product"),
        "limit": offer.get("limit"),
    }
