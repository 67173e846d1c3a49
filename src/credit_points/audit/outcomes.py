"""The outcomes tables of the audit database: loan performance rows and the files they came from.

Performance arrives months after a decision, for booked loans only. It is kept beside the decision chain,
never in it: the audited decision rows are not touched. ``<prefix>loan_performance`` holds one row per
booked loan and observation date, each linked to the decision that booked it; ``<prefix>outcome_imports``
holds one row per imported file, keyed by the SHA-256 of its bytes, with its row counts. Both tables are
append-only on both engines (the same triggers as the audit log).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any, NamedTuple

import sqlalchemy as sa

from credit_points.audit.store import OVERRIDE_KINDS, AuditStore
from credit_points.exceptions import AuditError


@dataclass(frozen=True)
class ImportRecord:
    """One imported file: its digest, name, when, and what became of its rows."""

    file_sha256: str
    kind: str  # "performance" or "history"
    file_name: str
    imported_at: str
    rows: int
    kept: int
    already_stored: int
    refused: int


#: record paths a training table reads (decisions), and the decision an override sets
_PARTS = (
    "firm_id",
    "as_of_date",
    "input",
    "points.stage",
    "points.total",
    "points.core",
    "points.bonus",
    "points.deductions",
    "points.categories",
    "points.config_hash",
    "risk.grade",
    "risk.prob_default",
    "limit.product",
    "limit.limit",
    "limit.expected_loss",
    "new_values.decision",
)


class DecisionParts(NamedTuple):
    """One audit row with the parts of its record that a training table needs (``None`` where absent)."""

    seq: int
    decision_id: str
    kind: str
    parent_id: str | None
    created_at: str
    model_version: str | None
    decision: str | None
    firm_id: str | None
    as_of_date: str | None
    input: dict[str, Any] | str | None
    points_stage: str | None
    points_total: float | None
    points_core: float | None
    points_bonus: float | None
    points_deductions: float | None
    points_categories: dict[str, Any] | str | None
    points_config_hash: str | None
    grade: str | None
    prob_default: float | None
    product: str | None
    limit: float | None
    expected_loss: float | None
    override_decision: str | None


class OutcomeStore:
    """Loan performance in the audit database of ``store`` (same URL, same table prefix)."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store
        prefix = store.prefix
        self.metadata = sa.MetaData()
        self.performance = sa.Table(
            f"{prefix}loan_performance",
            self.metadata,
            sa.Column(
                "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
            ),
            sa.Column("decision_id", sa.String(32), nullable=False, index=True),
            sa.Column("firm_id", sa.String(64), nullable=False),
            sa.Column("as_of_date", sa.String(10), nullable=False),
            sa.Column("observation_date", sa.String(10), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("default_12m", sa.SmallInteger, nullable=True),
            sa.Column("file_sha256", sa.String(64), nullable=False),
            sa.UniqueConstraint("decision_id", "observation_date", name=f"{prefix}loan_performance_obs"),
        )
        #: the bank's decisions from before this product: not in the hash chain, imported to learn from
        self.history = sa.Table(
            f"{prefix}historical_decisions",
            self.metadata,
            sa.Column("decision_id", sa.String(32), primary_key=True),
            sa.Column("firm_id", sa.String(64), nullable=False),
            sa.Column("as_of_date", sa.String(10), nullable=False),
            sa.Column("decision", sa.String(16), nullable=False),
            sa.Column("booked", sa.Boolean, nullable=False),
            sa.Column("previous_model_pd", sa.Double, nullable=True),
            sa.Column("input_json", sa.Text, nullable=False),
            sa.Column("file_sha256", sa.String(64), nullable=False),
            sa.UniqueConstraint("firm_id", "as_of_date", name=f"{prefix}historical_decisions_app"),
        )
        self.imports = sa.Table(
            f"{prefix}outcome_imports",
            self.metadata,
            sa.Column("file_sha256", sa.String(64), primary_key=True),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("file_name", sa.String(400), nullable=False),
            sa.Column("imported_at", sa.String(40), nullable=False),
            sa.Column("rows", sa.Integer, nullable=False),
            sa.Column("kept", sa.Integer, nullable=False),
            sa.Column("already_stored", sa.Integer, nullable=False),
            sa.Column("refused", sa.Integer, nullable=False),
        )

    def create_schema(self) -> None:
        """Create the audit tables (``AuditStore.create_schema``) and these two, append-only (safe to repeat)."""
        self.store.create_schema()
        store = self.store
        try:
            with store.locked_write() as conn:
                self.metadata.create_all(conn)
                for table in (self.performance, self.history, self.imports):
                    store.append_only(conn, table.name)
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(
                f"cannot create the outcomes tables ({type(exc).__name__}) at {store.safe_url}"
            ) from None

    def drop_schema(self) -> None:
        """Drop these tables (throwaway test stores only)."""
        with self.store.engine.begin() as conn:
            self.metadata.drop_all(conn)
            if self.store.dialect == "postgresql":
                for table in (self.performance, self.history, self.imports):
                    conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {table.name}_reject_change()")

    def imported(self, file_sha256: str) -> ImportRecord | None:
        """The earlier import of a file with these bytes, or None."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(self.imports).where(self.imports.c.file_sha256 == file_sha256)
            ).first()
        return None if row is None else ImportRecord(**row._mapping)

    def decision_parts(
        self, *, chunk_size: int = 5000, with_input: bool = True, raw_input: bool = False
    ) -> Iterator[DecisionParts]:
        """Every audit row in chain order, with only the parts of its record a training table needs.

        The database extracts them (SQLite's JSON functions, PostgreSQL's ``jsonb``), so a record's ~9 KiB
        are never parsed in Python; numbers come back from their JSON text (exactly the stored value). Older SQLite (< 3.38) parses each record in Python instead. Without ``with_input`` the
        input is left out (``None``): reading it is most of the cost. With ``raw_input`` it comes back as its
        JSON text, for a reader that parses many at once.
        """
        for columns in self.decision_columns(
            chunk_size=chunk_size, with_input=with_input, raw_input=raw_input
        ):
            yield from map(DecisionParts, *columns.values())

    def decision_columns(
        self,
        *,
        chunk_size: int = 5000,
        with_input: bool = True,
        raw_input: bool = False,
        start_seq: int = 1,
        stop_seq: int | None = None,
    ) -> Iterator[dict[str, list[Any]]]:
        """:meth:`decision_parts` a chunk of rows at a time, as columns: ``DecisionParts``' field names, in
        order, each to its values in chain order (for a reader that keeps or drops rows column by column).
        ``start_seq`` and ``stop_seq`` (both included) bound the rows read."""
        wanted = [p for p in _PARTS if with_input or p != "input"]
        log = self.store.log.name
        sqlite = self.store.dialect == "sqlite"
        if sqlite and sqlite3.sqlite_version_info < (3, 38):
            yield from self._decision_columns_parsed(chunk_size, start_seq, stop_seq)
            return
        at = _PARTS.index("input")
        others = [p for p in _PARTS if p != "input"]
        if sqlite:
            # the input as JSON text (``->``), every other part in one JSON array: one call parses the record
            # once, and numbers keep their stored text
            paths = ", ".join(f"'$.{p}'" for p in others)
            value = "record_json -> '$.input'" if with_input else "NULL"
            sql = (
                f"SELECT seq, decision_id, kind, parent_id, created_at, model_version, decision, {value}, "
                f"json_extract(record_json, {paths}) FROM {log} WHERE seq >= :start AND seq <= :stop "
                "ORDER BY seq LIMIT :n"
            )
        else:
            paths = ", ".join(
                ("NULL" if p not in wanted
                 else "(j -> 'input')::text" if raw_input and p == "input"
                 else f"j #> '{{{p.replace('.', ',')}}}'")
                for p in _PARTS
            )  # fmt: skip
            sql = (
                f"SELECT seq, decision_id, kind, parent_id, created_at, model_version, decision, {paths} FROM "
                f"(SELECT *, record_json::jsonb AS j FROM {log} WHERE seq >= :start AND seq <= :stop "
                "ORDER BY seq LIMIT :n) t"
            )
        start, stop = start_seq, (2**62 if stop_seq is None else stop_seq)
        while True:
            with self.store.engine.connect() as conn:
                chunk = conn.execute(sa.text(sql), {"start": start, "stop": stop, "n": chunk_size}).all()
            if not chunk:
                return
            values = [list(column) for column in zip(*chunk, strict=True)]
            if sqlite:
                inputs = values[7] if raw_input else [None if v is None else json.loads(v) for v in values[7]]
                rest = [list(column) for column in zip(*map(json.loads, values[8]), strict=True)]
                values = [*values[:7], *rest[:at], inputs, *rest[at:]]
            yield dict(zip(DecisionParts._fields, values, strict=True))
            if len(chunk) < chunk_size:
                return
            start = int(chunk[-1][0]) + 1

    def decision_inputs(
        self,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
        model_version: str | None = None,
        chunk_size: int = 20_000,
        progress: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[list[str], list[Any]]]:
        """The audited decisions dated ``since``..``until`` (decision dates, both included, as ``outcomes
        dataset`` and ``monitor`` read them; of ``model_version`` only when given), a chunk at a time:
        (decision ids, the inputs their rows stored), in chain order, up to the log's head when called.
        ``progress`` is called with the number of audit rows read after each chunk."""
        first, last = (since.isoformat() if since else ""), (until.isoformat() if until else "\uffff")
        for chunk in self.decision_columns(chunk_size=chunk_size, stop_seq=self.store.head()[0]):
            keep = [
                kind == "decision"
                and (model_version is None or str(version) == model_version)
                and first <= ("" if day is None else str(day)) <= last
                for kind, version, day in zip(
                    chunk["kind"], chunk["model_version"], chunk["as_of_date"], strict=True
                )
            ]
            if progress is not None:
                progress(len(keep))
            if any(keep):
                yield list(compress(chunk["decision_id"], keep)), list(compress(chunk["input"], keep))

    def _decision_columns_parsed(
        self, chunk_size: int, start_seq: int = 1, stop_seq: int | None = None
    ) -> Iterator[dict[str, list[Any]]]:
        rows: list[tuple[Any, ...]] = []
        for row in self.store.iter_rows(start_seq=start_seq, chunk_size=chunk_size):
            if stop_seq is not None and row.seq > stop_seq:
                break
            record = row.record
            parts = []
            for path in _PARTS:
                value: Any = record
                for key in path.split("."):
                    value = value.get(key) if isinstance(value, dict) else None
                parts.append(value)
            rows.append(
                (row.seq, row.decision_id, row.kind, row.parent_id, row.created_at, row.model_version, row.decision,
                 *parts)
            )  # fmt: skip
            if len(rows) == chunk_size:
                yield dict(zip(DecisionParts._fields, map(list, zip(*rows, strict=True)), strict=True))
                rows = []
        if rows:
            yield dict(zip(DecisionParts._fields, map(list, zip(*rows, strict=True)), strict=True))

    def _decision_parts_parsed(self, chunk_size: int) -> Iterator[DecisionParts]:
        for columns in self._decision_columns_parsed(chunk_size):
            yield from map(DecisionParts, *columns.values())

    def imports_list(self) -> list[ImportRecord]:
        """Every imported file, oldest first."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(self.imports).order_by(self.imports.c.imported_at))
            return [ImportRecord(**r._mapping) for r in rows]

    def stored(self, decision_ids: Iterable[str]) -> dict[tuple[str, str], tuple[str, int | None]]:
        """Stored rows of these decisions: (decision id, observation date) -> (status, default_12m)."""
        ids = list(dict.fromkeys(decision_ids))
        out: dict[tuple[str, str], tuple[str, int | None]] = {}
        t = self.performance
        with self.store.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                stmt = sa.select(t.c.decision_id, t.c.observation_date, t.c.status, t.c.default_12m).where(
                    t.c.decision_id.in_(ids[start : start + 500])
                )
                for did, obs, status, default in conn.execute(stmt):
                    out[(did, obs)] = (status, default)
        return out

    def historical(self, *, with_input: bool = False) -> list[dict[str, Any]]:
        """Every historical decision, in import order; with its input as known then (``input_json``) when asked."""
        t = self.history
        cols = [c for c in t.columns if with_input or c.name != "input_json"]
        with self.store.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(*cols))]

    def overrides(self) -> list[dict[str, Any]]:
        """Every officer override that came into force, in the order it did: ``seq``, ``decision_id`` (the
        override's), ``parent_id`` (the decision overridden), ``created_at``, ``reason``, ``officer``,
        ``scope`` and ``new_values``. A pending override counts from its approval (the approving row's seq
        and time, the override's reason and officer); pending and rejected ones are left out."""
        log = self.store.log
        stmt = (
            sa.select(log.c.seq, log.c.decision_id, log.c.parent_id, log.c.created_at, log.c.override_reason,
                      log.c.override_officer, log.c.override_scope, log.c.record_json, log.c.kind)
            .where(log.c.kind.in_(sorted(OVERRIDE_KINDS)))
            .order_by(log.c.seq)
        )  # fmt: skip
        out = []
        asked: dict[str, dict[str, Any]] = {}
        with self.store.engine.connect() as conn:
            for seq, did, parent, at, reason, officer, scope, text, kind in conn.execute(stmt):
                record = json.loads(text)
                entry = {"seq": int(seq), "decision_id": did, "parent_id": parent, "created_at": at,
                         "reason": reason, "officer": officer, "scope": scope,
                         "new_values": record.get("new_values") or {}}  # fmt: skip
                if kind == "override":
                    if record.get("status") == "pending":
                        asked[did] = entry
                    else:
                        out.append(entry)
                elif record.get("verdict") == "approved" and record.get("review_of") in asked:
                    first = asked.pop(record["review_of"])
                    out.append({**first, "seq": int(seq), "created_at": at})
        return out

    def closed_outcomes(self) -> dict[str, int | None]:
        """Every booked decision: ``default_12m`` of the row that closed its window, ``None`` while open
        (one pass over the performance table)."""
        t = self.performance
        out: dict[str, int | None] = {}
        with self.store.engine.connect() as conn:
            for did, default in conn.execute(sa.select(t.c.decision_id, t.c.default_12m)):
                if default is not None:
                    out[did] = int(default)
                else:
                    out.setdefault(did, None)
        return out

    def append(
        self, record: ImportRecord, rows: Sequence[Mapping[str, Any]], *, table: sa.Table | None = None
    ) -> None:
        """Store a file's good rows (performance rows by default) and its import record in one transaction."""
        store = self.store
        target = self.performance if table is None else table
        try:
            with store.locked_write() as conn:
                if rows:
                    conn.execute(sa.insert(target), [dict(r) for r in rows])
                conn.execute(sa.insert(self.imports), [record.__dict__])
        except sa.exc.IntegrityError:
            raise AuditError(
                f"file {record.file_sha256[:12]}… was imported meanwhile, or a row was stored by another import"
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(
                f"cannot store the outcomes ({type(exc).__name__}) at {store.safe_url}"
            ) from None

    def count(self) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.performance)).scalar_one())


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
