"""The decision audit store: an append-only, hash-chained table of decisions and overrides (SQLAlchemy Core).

One row per decision or override. Each row carries the canonical JSON of the record the engine produced,
its SHA-256, the columns a bank queries by (pulled out of the record), the SHA-256 of the previous row
(``prev_hash``) and its own hash (``row_hash`` = SHA-256 of ``prev_hash`` + the canonical JSON of the row's
other columns). Editing, deleting or re-ordering any row breaks the chain, and :meth:`AuditStore.verify`
names the first row that no longer verifies.

Appends are serialised so the chain never forks: SQLite takes the write lock up front
(``BEGIN IMMEDIATE``), PostgreSQL takes a transaction-scoped advisory lock (``pg_advisory_xact_lock``).
Database triggers reject ``UPDATE`` and ``DELETE`` (and ``TRUNCATE`` on PostgreSQL) on both engines.

The engine's record is opaque JSON except for the keys in :data:`INDEXED_PATHS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from credit_points.config import canonical_json, sha256_text
from credit_points.exceptions import AuditError, CreditPointsError, DataValidationError

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first row."""

#: Column name -> dotted path into the engine's decision record.
INDEXED_PATHS: dict[str, str] = {
    "input_sha256": "input_sha256",
    "points_config_version": "points.config_version",
    "points_config_hash": "points.config_hash",
    "model_name": "model.name",
    "model_version": "model.version",
    "model_artifact_hash": "model.artifact_hash",
    "model_feature_order_hash": "model.feature_order_hash",
    "prob_default": "risk.prob_default",
    "limit_amount": "limit.limit",
    "decision": "decision",
}
#: Column name -> key of an override's ``new_values``.
OVERRIDE_PATHS: dict[str, str] = {"limit_amount": "limit", "decision": "decision"}
#: row kinds whose indexed ``decision`` / ``limit_amount`` are values that came into force over a decision:
#: an override in force at once, and the approval of a pending one (a pending override and a rejection
#: index nothing)
OVERRIDE_KINDS: frozenset[str] = frozenset({"override", "override_review"})
_NUMERIC_COLUMNS = frozenset({"prob_default", "limit_amount"})
_TEXT_COLUMNS = tuple(c for c in INDEXED_PATHS if c not in _NUMERIC_COLUMNS)
#: Columns covered by ``row_hash`` (everything except the hash itself and the record text, which is bound
#: through ``record_sha256``).
HASHED_COLUMNS: tuple[str, ...] = (
    "seq",
    "decision_id",
    "kind",
    "parent_id",
    "request_id",
    "client_id",
    "idempotency_key",
    "body_sha256",
    "created_at",
    "record_sha256",
    *INDEXED_PATHS,
    "override_reason",
    "override_officer",
    "override_scope",
)
_PREFIX_RE = re.compile(r"^(?:[a-z][a-z0-9_]{0,30})?$")
_MAX_TEXT = 200


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def get_path(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of nested mappings, or ``None`` when any step is missing.

    Examples:
        >>> get_path({"risk": {"prob_default": 0.02}}, "risk.prob_default")
        0.02
        >>> get_path({"risk": None}, "risk.prob_default") is None
        True
    """
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _column_value(column: str, value: Any, *, source: str) -> Any:
    if value is None:
        return None
    if column in _NUMERIC_COLUMNS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise DataValidationError("must be a finite number", field=source, value=value)
        return float(value)
    if not isinstance(value, str):
        raise DataValidationError(f"must be a string; got {type(value).__name__}", field=source, value=value)
    if len(value) > _MAX_TEXT:
        raise DataValidationError(
            f"longer than {_MAX_TEXT} characters", field=source, value=value[:20] + "..."
        )
    return value


def extract_indexed(record: Mapping[str, Any], kind: str = "decision") -> dict[str, Any]:
    """The indexed columns of a row, pulled out of its record.

    Decisions read :data:`INDEXED_PATHS`; overrides in force read ``new_values`` by :data:`OVERRIDE_PATHS`
    (a pending override indexes nothing; the approval that puts it in force carries its values, a
    rejection nothing), so the indexed ``decision`` and ``limit_amount`` of override rows are always what
    came into force. Numbers become floats so that the value hashed is the value read back.

    Examples:
        >>> extract_indexed({"decision": "approve", "limit": {"limit": 500000}})["limit_amount"]
        500000.0
    """
    out: dict[str, Any] = dict.fromkeys(INDEXED_PATHS)
    if kind == "override" and record.get("status") == "pending":
        return out  # not in force: its values are indexed by the approval that puts them in force
    if kind == "override_review" and record.get("verdict") != "approved":
        return out
    if kind in {"override", "override_review"}:
        new_values = record.get("new_values") or {}
        for column, key in OVERRIDE_PATHS.items():
            out[column] = _column_value(column, new_values.get(key), source=f"new_values.{key}")
        return out
    for column, path in INDEXED_PATHS.items():
        out[column] = _column_value(column, get_path(record, path), source=path)
    return out


def compute_row_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    """SHA-256 over ``prev_hash`` followed by the canonical JSON of the hashed columns.

    Examples:
        >>> len(compute_row_hash(GENESIS_HASH, {"seq": 1}))
        64
    """
    return sha256_text(prev_hash + canonical_json({k: content.get(k) for k in HASHED_COLUMNS}))


@dataclass(frozen=True)
class AuditRow:
    """One stored row (decision or override).

    ``is_new`` is not stored: it is ``False`` when an append returned an earlier row for the same
    idempotency key and body instead of writing a new one.
    """

    seq: int
    decision_id: str
    kind: str
    parent_id: str | None
    request_id: str | None
    client_id: str | None
    idempotency_key: str | None
    body_sha256: str | None
    created_at: str
    record_json: str
    record_sha256: str
    input_sha256: str | None
    points_config_version: str | None
    points_config_hash: str | None
    model_name: str | None
    model_version: str | None
    model_artifact_hash: str | None
    model_feature_order_hash: str | None
    prob_default: float | None
    limit_amount: float | None
    decision: str | None
    override_reason: str | None
    override_officer: str | None
    override_scope: str | None
    prev_hash: str
    row_hash: str
    is_new: bool = field(default=True, compare=False)

    @property
    def record(self) -> dict[str, Any]:
        """The stored record, parsed from its canonical JSON."""
        import json

        return json.loads(self.record_json)  # type: ignore[no-any-return]

    @classmethod
    def from_mapping(cls, data: Mapping[Any, Any], *, is_new: bool = True) -> AuditRow:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k != "is_new"}, is_new=is_new)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a chain verification: ``ok``, or the first row that fails and why."""

    ok: bool
    rows_checked: int
    first_bad_seq: int | None = None
    first_bad_decision_id: str | None = None
    reason: str | None = None
    head_hash: str | None = None


class IdempotencyConflictError(AuditError):
    """The idempotency key was used before by the same client with a different body."""

    def __init__(
        self, message: str = "idempotency key was already used with a different request body"
    ) -> None:
        super().__init__(message)


class StaleOverrideError(CreditPointsError):
    """Another override or review of the decision was recorded after this override was checked."""

    def __init__(self) -> None:
        super().__init__("the decision was overridden or reviewed meanwhile; read it again and retry")


class OverrideNotPendingError(CreditPointsError):
    """A review of an override that is not pending (in force at once, or reviewed already)."""

    def __init__(self) -> None:
        super().__init__("the override is not pending: it was in force at once, or was reviewed already")


class NotFoundError(AuditError, LookupError):
    """No row has the decision id."""


def _build_metadata(prefix: str) -> tuple[sa.MetaData, sa.Table, sa.Table]:
    metadata = sa.MetaData()
    log = sa.Table(
        f"{prefix}audit_log",
        metadata,
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("decision_id", sa.String(32), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.String(32), nullable=True, index=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("idempotency_key", sa.String(_MAX_TEXT), nullable=True),
        sa.Column("body_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False, index=True),
        sa.Column("record_json", sa.Text, nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("input_sha256", sa.String(_MAX_TEXT), nullable=True, index=True),
        sa.Column("points_config_version", sa.String(_MAX_TEXT), nullable=True),
        sa.Column("points_config_hash", sa.String(_MAX_TEXT), nullable=True),
        sa.Column("model_name", sa.String(_MAX_TEXT), nullable=True),
        sa.Column("model_version", sa.String(_MAX_TEXT), nullable=True, index=True),
        sa.Column("model_artifact_hash", sa.String(_MAX_TEXT), nullable=True),
        sa.Column("model_feature_order_hash", sa.String(_MAX_TEXT), nullable=True),
        sa.Column("prob_default", sa.Double, nullable=True),
        sa.Column("limit_amount", sa.Double, nullable=True),
        sa.Column("decision", sa.String(_MAX_TEXT), nullable=True, index=True),
        sa.Column("override_reason", sa.Text, nullable=True),
        sa.Column("override_officer", sa.String(_MAX_TEXT), nullable=True),
        sa.Column("override_scope", sa.String(_MAX_TEXT), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Index(f"{prefix}audit_log_idem", "client_id", "idempotency_key", unique=True),
    )
    keys = sa.Table(
        f"{prefix}api_keys",
        metadata,
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(_MAX_TEXT), nullable=False, index=True),
        sa.Column("scopes", sa.String(400), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=True),
    )
    return metadata, log, keys


@dataclass(frozen=True)
class DecisionAppend:
    """One decision to append with :meth:`AuditStore.append_decision_items` (arguments as in ``append_decision``)."""

    record: Mapping[str, Any]
    request_id: str | None
    client_id: str | None
    idempotency_key: str | None = None
    body_sha256: str | None = None
    decision_id: str | None = None


def _decision_values(
    decision_id: str,
    request_id: str | None,
    client_id: str | None,
    idempotency_key: str | None,
    body_sha256: str | None,
    record_json: str,
    record_sha256: str,
    indexed: Mapping[str, Any],
) -> dict[str, Any]:
    """A decision row's columns before it is chained (no ``seq``, ``created_at``, hashes of the chain)."""
    return {
        "decision_id": decision_id,
        "kind": "decision",
        "parent_id": None,
        "request_id": request_id,
        "client_id": client_id,
        "idempotency_key": idempotency_key,
        "body_sha256": body_sha256,
        "record_json": record_json,
        "record_sha256": record_sha256,
        **indexed,
        "override_reason": None,
        "override_officer": None,
        "override_scope": None,
    }


@dataclass(frozen=True)
class EncodedDecisions:
    """Decisions already encoded: each record's canonical JSON, its SHA-256 and the indexed columns.

    ``indexed`` maps every column of :data:`INDEXED_PATHS` to one value per record (what
    :func:`extract_indexed` would pull out of it).
    """

    texts: Sequence[str]
    record_sha256: Sequence[str]
    indexed: Mapping[str, Sequence[Any]]


@dataclass(frozen=True)
class BatchAppend:
    """What :meth:`AuditStore.append_encoded` did: each record's decision id, and whether it was written now."""

    decision_ids: list[str]
    is_new: list[bool]

    @property
    def added(self) -> int:
        return sum(self.is_new)


class _BatchRowText:
    """The canonical JSON of a batch row's hashed columns (what :func:`compute_row_hash` hashes after
    ``prev_hash``), from a template: the columns shared by the batch are rendered once."""

    _VARYING = (
        "seq",
        "decision_id",
        "idempotency_key",
        "body_sha256",
        "record_sha256",
        *INDEXED_PATHS,
    )

    def __init__(self, **shared: Any) -> None:
        import json

        pieces: list[str] = []
        self._slots: list[str] = []
        for i, column in enumerate(sorted(HASHED_COLUMNS)):
            prefix = ("," if i else "{") + json.dumps(column) + ":"
            if column in self._VARYING:
                pieces.append(prefix.replace("%", "%%") + "%s")
                self._slots.append(column)
            else:
                pieces.append(
                    prefix.replace("%", "%%") + canonical_json(shared.get(column)).replace("%", "%%")
                )
        self._format = "".join(pieces) + "}"

    def text(self, values: Mapping[str, Any]) -> str:
        return self._format % tuple([_json_scalar(values[c]) for c in self._slots])


def _json_scalar(value: Any) -> str:
    """``json.dumps`` of a string, number or ``None`` as ``canonical_json`` writes it."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return encode_basestring(value)  # type: ignore[no-any-return]
    if isinstance(value, float):
        return float.__repr__(value)
    return int.__repr__(value)


@dataclass
class _Pending:
    prepared: list[dict[str, Any]]
    result: list[AuditRow] | None = None
    error: BaseException | None = None
    done: bool = False


class _GroupCommit:
    """Leader/follower group commit: callers queue their rows; whoever holds the writer lock writes them all.

    While one transaction commits, other threads queue up; the next of them to get the writer lock writes
    every queued item in one transaction and wakes the rest with their results. Under load this turns one
    commit (and one fsync) per request into one per group, without a background thread.
    """

    def __init__(self, write: Callable[[list[_Pending]], None]) -> None:
        self._write = write
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._writer_lock = threading.Lock()

    def submit(self, prepared: list[dict[str, Any]]) -> list[AuditRow]:
        (pending,) = self.submit_many([prepared])
        if pending.error is not None:
            raise pending.error
        return pending.result or []

    def submit_many(self, items: list[list[dict[str, Any]]]) -> list[_Pending]:
        """Queue several independent items at once; each comes back with its own result or error."""
        pendings = [_Pending(prepared) for prepared in items]
        with self._queue_lock:
            self._queue.extend(pendings)
        with self._writer_lock:
            if not all(p.done for p in pendings):
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._write(batch)
        return pendings


def _sqlite_lock_path(url: str) -> str | None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:") or parsed.query.get("uri"):
        return None
    return f"{parsed.database}.lock"


def _redact_url(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only used for messages
        return "<unparseable url>"


class AuditStore:
    """The decision store over one SQLAlchemy URL (SQLite file or PostgreSQL).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:////var/lib/credit-points/audit.db`` or
            ``postgresql+psycopg://user@host/db``.
        table_prefix: prefix of the table names (lets several stores share one database, e.g. in tests).
        connect_timeout_s: how long to wait for a connection or a lock before answering "unavailable".

    Examples:
        >>> import tempfile, pathlib
        >>> store = AuditStore(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'a.db'}")
        >>> store.create_schema()
        >>> row = store.append_decision({"decision": "approve"}, request_id="r1", client_id="c1")
        >>> store.verify().ok, store.count()
        (True, 1)
        >>> store.dispose()
    """

    def __init__(self, url: str, *, table_prefix: str = "", connect_timeout_s: float = 5.0) -> None:
        if not _PREFIX_RE.match(table_prefix):
            raise DataValidationError(
                "must be lower-case letters, digits, '_'", field="table_prefix", value=table_prefix
            )
        self.url = url
        self.safe_url = _redact_url(url)
        self.prefix = table_prefix
        self.metadata, self.log, self.keys = _build_metadata(table_prefix)
        self._timeout = connect_timeout_s
        self._engine: Engine | None = None
        self._lock_key = int(
            hashlib.sha256(f"credit-points:{table_prefix}audit_log".encode()).hexdigest()[:15], 16
        )
        self._group = _GroupCommit(self._write_group)
        self._lock_path = _sqlite_lock_path(url)

    # -- engine -----------------------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return sa.engine.make_url(self.url).get_backend_name()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use."""
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        dialect = self.dialect
        if dialect == "sqlite":
            # connections are cheap; enough for every request thread, and a bounded wait (then 503)
            engine = sa.create_engine(
                self.url,
                connect_args={"timeout": self._timeout, "check_same_thread": False},
                pool_size=16,
                max_overflow=48,
                pool_timeout=self._timeout,
            )
            timeout_ms = int(self._timeout * 1000)

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                cur = dbapi_conn.cursor()
                cur.execute(f"PRAGMA busy_timeout = {timeout_ms}")
                with contextlib.suppress(Exception):  # a read-only file keeps its journal mode
                    cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = FULL")
                cur.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
                conn.exec_driver_sql(f"BEGIN {mode}")

            return engine
        if dialect == "postgresql":
            # server connections are not cheap: a modest pool per worker, and a bounded wait (then 503)
            return sa.create_engine(
                self.url,
                pool_pre_ping=True,
                pool_size=8,
                max_overflow=8,
                pool_timeout=self._timeout,
                connect_args={"connect_timeout": max(1, math.ceil(self._timeout))},
            )
        raise AuditError(f"unsupported audit store dialect {dialect!r}; use sqlite or postgresql")

    def dispose(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            self._engine.dispose()

    def _write_conn(self) -> Any:
        """A connection whose transaction holds the store's write lock from its first statement."""
        conn = self.engine.connect()
        if self.dialect == "sqlite":
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        return conn

    def _lock(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._lock_key})

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Across processes on one SQLite file: an exclusive ``flock`` on ``<file>.lock``.

        ``BEGIN IMMEDIATE`` alone serialises writers too, but a waiting process polls with growing sleeps
        (SQLite's busy handler), which shows up as long latency tails; a blocking ``flock`` hands the lock
        over as soon as it is released. ``BEGIN IMMEDIATE`` stays as the guarantee.
        """
        if self._lock_path is None:
            yield
            return
        import fcntl

        try:
            handle = open(self._lock_path, "a+b")  # noqa: SIM115 - held for the duration of the write
        except OSError:  # e.g. a read-only directory: fall back on SQLite's own locking
            yield
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield
        finally:
            handle.close()  # closing releases the lock

    # -- schema -----------------------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the tables and the append-only triggers if missing (safe to call from every worker)."""
        t = self.log.name
        try:
            with self._write_conn() as conn, conn.begin():
                self._lock(conn)
                self.metadata.create_all(conn)
                self.append_only(conn, t)
                if self.dialect == "postgresql":
                    self._compress_records_with_lz4(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("cannot create the audit schema", exc) from None

    def append_only(self, conn: Connection, table: str) -> None:
        """Triggers that refuse ``UPDATE`` and ``DELETE`` (and ``TRUNCATE`` on PostgreSQL) on ``table``."""
        t = table
        label = "audit log" if t == self.log.name else t
        if self.dialect == "sqlite":
            for op in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
                    f"BEGIN SELECT RAISE(ABORT, '{label} is append-only: {op} rejected'); END"
                )
            return
        conn.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION {t}_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{label} is append-only: %% rejected', TG_OP "
            "USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        conn.exec_driver_sql(
            f"CREATE OR REPLACE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
            f"FOR EACH ROW EXECUTE FUNCTION {t}_reject_change()"
        )
        conn.exec_driver_sql(
            f"CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {t}_reject_change()"
        )

    @contextlib.contextmanager
    def locked_write(self) -> Iterator[Connection]:
        """A transaction holding the store's write lock (the same lock every append takes); commits on exit."""
        with self._file_lock(), self._write_conn() as conn, conn.begin():
            self._lock(conn)
            yield conn

    def _compress_records_with_lz4(self, conn: Connection) -> None:
        """PostgreSQL ≥ 14: compress new ``record_json`` values with lz4 instead of pglz.

        A record is ~7 KiB of JSON; pglz costs ~3× lz4 to compress it, for the same size on disk (measured on
        decision records), which is most of the cost of appending a large batch. Rows already written keep
        their compression; a server built without lz4 keeps pglz.
        """
        t = self.log.name
        try:
            with conn.begin_nested():
                current = conn.execute(
                    sa.text(
                        "SELECT attcompression FROM pg_attribute "
                        "WHERE attrelid = to_regclass(:t) AND attname = 'record_json'"
                    ),
                    {"t": t},
                ).scalar()
                if current != "l":
                    conn.exec_driver_sql(f"ALTER TABLE {t} ALTER COLUMN record_json SET COMPRESSION lz4")
        except sa.exc.DBAPIError:
            pass  # PostgreSQL < 14, or built without lz4: the default compression stays

    def drop_schema(self) -> None:
        """Drop the tables (and the trigger function): for throwaway test stores only."""
        with self.engine.begin() as conn:
            self.metadata.drop_all(conn)
            if self.dialect == "postgresql":
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {self.log.name}_reject_change()")

    def _unavailable(self, what: str, exc: BaseException) -> AuditError:
        detail = type(getattr(exc, "orig", None) or exc).__name__
        return AuditError(f"{what} ({detail}) at {self.safe_url}")

    # -- writes -----------------------------------------------------------------------------------
    @staticmethod
    def _canonical(record: Mapping[str, Any], field_name: str) -> str:
        if not isinstance(record, Mapping):
            raise DataValidationError(f"must be a JSON object; got {type(record).__name__}", field=field_name)
        try:
            return canonical_json(dict(record))
        except (TypeError, ValueError) as exc:
            raise DataValidationError(f"is not canonical JSON ({exc})", field=field_name) from None

    def _last(self, conn: Connection) -> tuple[int, str]:
        row = conn.execute(
            sa.select(self.log.c.seq, self.log.c.row_hash).order_by(self.log.c.seq.desc()).limit(1)
        ).first()
        return (0, GENESIS_HASH) if row is None else (int(row.seq), str(row.row_hash))

    def _insert(self, conn: Connection, seq: int, prev_hash: str, values: dict[str, Any]) -> AuditRow:
        values = self._chained(seq, prev_hash, values)
        conn.execute(sa.insert(self.log), [values])
        return AuditRow.from_mapping(values)

    @staticmethod
    def _chained(seq: int, prev_hash: str, values: dict[str, Any]) -> dict[str, Any]:
        """The row's values with its place in the chain: sequence number, previous hash, own hash."""
        values = {**values, "seq": seq, "prev_hash": prev_hash}
        values["row_hash"] = compute_row_hash(prev_hash, values)
        return values

    def _find_idem(self, conn: Connection, client_id: str, key: str) -> AuditRow | None:
        row = conn.execute(
            sa.select(self.log).where(self.log.c.client_id == client_id, self.log.c.idempotency_key == key)
        ).first()
        return None if row is None else AuditRow.from_mapping(row._mapping, is_new=False)

    def append_decision(
        self,
        record: Mapping[str, Any],
        *,
        request_id: str | None,
        client_id: str | None,
        idempotency_key: str | None = None,
        body_sha256: str | None = None,
        decision_id: str | None = None,
    ) -> AuditRow:
        """Append one decision; committed when this returns.

        Args:
            record: the engine's decision record (JSON object; floats are stored exactly).
            request_id: the HTTP request id (or batch job id).
            client_id: who asked (the API key id).
            idempotency_key: the client's ``Idempotency-Key``; with it, an earlier row for the same client,
                key and body is returned (``is_new=False``) instead of writing a second one.
            body_sha256: SHA-256 of the canonical request body; defaults to the record's ``input_sha256``.
            decision_id: a caller-chosen id (32 hex); a fresh uuid4 by default.

        Raises:
            IdempotencyConflictError: the key was used before with another body.
            DataValidationError: the record is not canonical JSON or an indexed key has the wrong type.
            AuditError: the store is unavailable; nothing was written.
        """
        rows = self.append_decisions(
            [record],
            request_id=request_id,
            client_id=client_id,
            idempotency_keys=[idempotency_key],
            body_sha256s=[body_sha256],
            decision_ids=[decision_id],
        )
        return rows[0]

    def append_decisions(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        request_id: str | None,
        client_id: str | None,
        idempotency_keys: Sequence[str | None] | None = None,
        body_sha256s: Sequence[str | None] | None = None,
        decision_ids: Sequence[str | None] | None = None,
    ) -> list[AuditRow]:
        """Append several decisions in one transaction (all or nothing), in order. See :meth:`append_decision`."""
        return self._group.submit(
            self._prepare_decisions(
                records,
                request_id=request_id,
                client_id=client_id,
                idempotency_keys=idempotency_keys,
                body_sha256s=body_sha256s,
                decision_ids=decision_ids,
            )
        )

    def append_decision_items(self, items: Sequence[DecisionAppend]) -> list[AuditRow | CreditPointsError]:
        """Append independent decisions (e.g. several callers' requests) in one commit; one outcome each.

        Unlike :meth:`append_decisions`, the items are not all or nothing among themselves: an item whose
        idempotency key was used with another body, or whose record the store refuses, gets its own error
        (:class:`IdempotencyConflictError`, :class:`DataValidationError`) and the others are written. A
        database failure gives every item the same :class:`AuditError`; nothing is written then.
        """
        outcomes: list[AuditRow | CreditPointsError | None] = [None] * len(items)
        prepared: list[list[dict[str, Any]]] = []
        where: list[int] = []
        for i, item in enumerate(items):
            try:
                prepared.append(
                    self._prepare_decisions(
                        [item.record],
                        request_id=item.request_id,
                        client_id=item.client_id,
                        idempotency_keys=[item.idempotency_key],
                        body_sha256s=[item.body_sha256],
                        decision_ids=[item.decision_id],
                    )
                )
                where.append(i)
            except DataValidationError as exc:
                outcomes[i] = exc
        if prepared:
            for i, pending in zip(where, self._group.submit_many(prepared), strict=True):
                if pending.error is not None:
                    if not isinstance(pending.error, AuditError):
                        raise pending.error  # a bug in the store, not an outcome of the item
                    outcomes[i] = pending.error
                else:
                    outcomes[i] = (pending.result or [])[0]
        return [o for o in outcomes if o is not None]

    def append_encoded(
        self,
        encoded: EncodedDecisions,
        *,
        request_id: str | None,
        client_id: str,
        idempotency_keys: Sequence[str],
    ) -> BatchAppend:
        """Append a batch of decisions already in canonical JSON (``score --audit``), in one transaction.

        Each decision carries an idempotency key (the batch's row key). A key already stored for
        ``client_id`` returns that row's decision id instead of writing a second row, as does a key
        repeated within the batch (its first row is written); a key stored with another body is an
        :class:`IdempotencyConflictError` and nothing is written. The body of a batch row is its input hash.

        The rows are chained as :meth:`append_decisions` chains them and verify the same way; the indexed
        values must be those of the record (the caller's encoder is held to that by its tests, and
        :meth:`verify` checks every row).

        Raises:
            DataValidationError: lengths differ, a key is empty or too long, an indexed value has the wrong type.
            IdempotencyConflictError: a key was stored before with another input.
            AuditError: the store is unavailable; nothing was written.
        """
        n = len(encoded.texts)
        keys = list(idempotency_keys)
        columns = {c: list(encoded.indexed[c]) for c in INDEXED_PATHS if c in encoded.indexed}
        if set(columns) != set(INDEXED_PATHS):
            missing = sorted(set(INDEXED_PATHS) - set(columns))
            raise DataValidationError(f"indexed columns missing: {missing}", field="indexed")
        if not (len(keys) == len(encoded.record_sha256) == n and all(len(v) == n for v in columns.values())):
            raise DataValidationError(
                "lengths differ from texts", field="record_sha256/indexed/idempotency_keys"
            )
        for column, column_values in columns.items():  # each distinct value once
            for value in set(column_values):
                _column_value(column, value, source=INDEXED_PATHS[column])
        if any(not k or len(k) > _MAX_TEXT for k in set(keys)):
            raise DataValidationError(f"must be 1-{_MAX_TEXT} characters", field="idempotency_key")
        try:
            with self._file_lock(), self._write_conn() as conn, conn.begin():
                self._lock(conn)
                earlier = self._earlier_keys(conn, client_id, keys)
                seq, prev = self._last(conn)
                created = _now()
                content = _BatchRowText(
                    kind="decision", request_id=request_id, client_id=client_id, created_at=created
                )
                ids: list[str] = []
                is_new: list[bool] = []
                rows: list[dict[str, Any]] = []
                bodies = columns["input_sha256"]
                for i in range(n):
                    key = keys[i]
                    known = earlier.get(key)
                    if known is not None:
                        if known[1] != bodies[i]:
                            raise IdempotencyConflictError()
                        ids.append(known[0])
                        is_new.append(False)
                        continue
                    seq += 1
                    did = uuid.uuid4().hex
                    values = _decision_values(
                        did, request_id, client_id, key, bodies[i], encoded.texts[i], encoded.record_sha256[i],
                        {c: v[i] for c, v in columns.items()},
                    )  # fmt: skip
                    values |= {"seq": seq, "created_at": created, "prev_hash": prev}
                    values["row_hash"] = prev = sha256_text(prev + content.text(values))
                    rows.append(values)
                    earlier[key] = (did, bodies[i])
                    ids.append(did)
                    is_new.append(True)
                if rows:
                    self._insert_many(conn, rows)
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("cannot append to the audit store", exc) from None
        return BatchAppend(ids, is_new)

    def _insert_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert many rows through the driver's ``executemany`` (SQLAlchemy's per-row parameter handling
        costs more than the database for a batch of this size; the column types need no conversion)."""
        if self.dialect == "postgresql":  # COPY: one stream instead of a statement per row
            columns = [c.name for c in self.log.columns]
            target = self.log.name if not self.log.schema else f"{self.log.schema}.{self.log.name}"
            raw: Any = conn.connection.dbapi_connection  # psycopg's connection, inside this transaction
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row([row[c] for c in columns])
            return
        compiled = sa.insert(self.log).compile(dialect=conn.dialect)
        if compiled.positiontup is not None:  # qmark (SQLite): tuples in the statement's order
            order = list(compiled.positiontup)
            conn.exec_driver_sql(str(compiled), [tuple([row[c] for c in order]) for row in rows])
        else:  # named (psycopg's pyformat)
            conn.exec_driver_sql(str(compiled), rows)

    def find_keys(self, client_id: str, keys: Sequence[str]) -> dict[str, str]:
        """The decision id stored under each of ``keys`` for ``client_id`` (keys not stored are left out)."""
        try:
            with self.engine.connect() as conn:
                return {k: did for k, (did, _) in self._earlier_keys(conn, client_id, list(keys)).items()}
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("cannot read the audit store", exc) from None

    def _earlier_keys(self, conn: Connection, client_id: str, keys: list[str]) -> dict[str, tuple[str, str]]:
        """Decision id and body of every key of ``keys`` already stored for ``client_id``.

        PostgreSQL gets the keys as one array per 10,000 (``= ANY``: one index probe per key whatever the
        table's statistics say); SQLite as ``IN`` lists of 500 (its parameter limit).
        """
        found: dict[str, tuple[str, str]] = {}
        distinct = list(dict.fromkeys(keys))
        log = self.log
        if self.dialect == "postgresql":
            stmt = sa.text(
                f"SELECT idempotency_key, decision_id, body_sha256 FROM {log.name} "
                "WHERE client_id = :client AND idempotency_key = ANY(:keys)"
            )
            for start in range(0, len(distinct), 10_000):
                params = {"client": client_id, "keys": distinct[start : start + 10_000]}
                for key, did, body in conn.execute(stmt, params):
                    found[key] = (did, body)
            return found
        for start in range(0, len(distinct), 500):
            part = distinct[start : start + 500]
            select = sa.select(log.c.idempotency_key, log.c.decision_id, log.c.body_sha256).where(
                log.c.client_id == client_id, log.c.idempotency_key.in_(part)
            )
            for key, did, body in conn.execute(select):
                found[key] = (did, body)
        return found

    def _prepare_decisions(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        request_id: str | None,
        client_id: str | None,
        idempotency_keys: Sequence[str | None] | None,
        body_sha256s: Sequence[str | None] | None,
        decision_ids: Sequence[str | None] | None,
    ) -> list[dict[str, Any]]:
        n = len(records)
        keys = list(idempotency_keys) if idempotency_keys is not None else [None] * n
        bodies = list(body_sha256s) if body_sha256s is not None else [None] * n
        ids = list(decision_ids) if decision_ids is not None else [None] * n
        if not (len(keys) == len(bodies) == len(ids) == n):
            raise DataValidationError(
                "lengths differ from records", field="idempotency_keys/body_sha256s/decision_ids"
            )
        prepared = []
        for i, record in enumerate(records):
            text = self._canonical(record, f"records[{i}]")
            indexed = extract_indexed(record, "decision")
            key = keys[i]
            if key is not None and (not key or len(key) > _MAX_TEXT):
                raise DataValidationError(f"must be 1-{_MAX_TEXT} characters", field="idempotency_key")
            if key is not None and client_id is None:
                raise DataValidationError("an idempotency key needs a client id", field="client_id")
            did = ids[i] or uuid.uuid4().hex
            if not re.fullmatch(r"[0-9a-f]{32}|[0-9A-HJKMNP-TV-Z]{26}", did):
                raise DataValidationError(
                    "must be 32 lower-case hex digits or a ULID", field="decision_id", value=did
                )
            body = bodies[i] if bodies[i] is not None else indexed["input_sha256"]
            prepared.append(
                _decision_values(did, request_id, client_id, key, body, text, sha256_text(text), indexed)
            )
        return prepared

    def _write_group(self, items: list[_Pending]) -> None:
        """Write the queued appends of several threads in one transaction (one commit, one fsync).

        Each item is one caller's list of rows, all or nothing: an idempotency conflict fails that item
        only; a database failure fails every item of the group (nothing was committed).
        """
        try:
            with self._file_lock(), self._write_conn() as conn, conn.begin():
                self._lock(conn)
                seq, prev = self._last(conn)
                rows: list[dict[str, Any]] = []
                written: dict[tuple[str, str], AuditRow] = {}  # idempotency keys of this group's rows
                for item in items:
                    try:
                        item.result, seq, prev = self._insert_item(
                            conn, item.prepared, seq, prev, rows, written
                        )
                    except IdempotencyConflictError as exc:
                        item.error = exc
                if rows:  # one multi-row statement for the whole group
                    conn.execute(sa.insert(self.log), rows)
        except sa.exc.SQLAlchemyError as exc:
            failure: BaseException = self._unavailable("cannot append to the audit store", exc)
            for item in items:
                item.result, item.error = None, failure
        except BaseException as exc:  # a bug: fail every waiting caller, never leave one hanging
            for item in items:
                item.result, item.error = None, exc
        finally:
            for item in items:
                item.done = True

    def _insert_item(
        self,
        conn: Connection,
        prepared: list[dict[str, Any]],
        seq: int,
        prev: str,
        rows: list[dict[str, Any]],
        written: dict[tuple[str, str], AuditRow],
    ) -> tuple[list[AuditRow], int, str]:
        """Chain one item's rows after ``(seq, prev)`` and add them to ``rows`` (inserted by the caller)."""
        earlier_rows: dict[int, AuditRow] = {}
        for i, values in enumerate(prepared):  # check every key first: the item is all or nothing
            if values["idempotency_key"] is not None:
                idem = (values["client_id"], values["idempotency_key"])
                earlier = written.get(idem) or self._find_idem(conn, *idem)
                if earlier is not None:
                    if earlier.body_sha256 != values["body_sha256"]:
                        raise IdempotencyConflictError()
                    earlier_rows[i] = earlier
        out: list[AuditRow] = []
        new_rows: list[dict[str, Any]] = []
        new_written: dict[tuple[str, str], AuditRow] = {}
        for i, values in enumerate(prepared):
            if i in earlier_rows:
                out.append(earlier_rows[i])
                continue
            seq += 1
            chained = self._chained(seq, prev, {**values, "created_at": _now()})
            new_rows.append(chained)
            row = AuditRow.from_mapping(chained)
            if values["idempotency_key"] is not None:
                new_written[(values["client_id"], values["idempotency_key"])] = replace(row, is_new=False)
            prev = row.row_hash
            out.append(row)
        rows.extend(new_rows)
        written.update(new_written)
        return out, seq, prev

    def append_override(
        self,
        decision_id: str,
        *,
        reason: str,
        officer: str,
        scope: str,
        new_values: Mapping[str, Any],
        request_id: str | None = None,
        client_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        expected_steps: int | None = None,
    ) -> AuditRow:
        """Append an override: a new row linked to ``decision_id``; the original row is untouched.

        Args:
            decision_id: the decision overridden (a decision row, not another override).
            reason: why (free text, required).
            officer: who decided (the bank's officer id).
            scope: what the override covers (e.g. ``limit``, ``decision``, ``rate``).
            new_values: the overriding values (JSON object, non-empty), e.g. ``{"limit": 300000}``.
            details: more of the record (reason code, actor, status, the decision in force before and
                after; see ``docs/audit.md``).
            expected_steps: how many rows (overrides and reviews) the decision had when the override was
                checked; if another was appended meanwhile the override is refused (check again).

        Raises:
            NotFoundError: no decision has that id.
            DataValidationError: a missing reason, officer or scope, or empty ``new_values``.
            StaleOverrideError: ``expected_steps`` no longer holds.
        """
        for name, value in (("reason", reason), ("officer", officer), ("scope", scope)):
            if not isinstance(value, str) or not value.strip():
                raise DataValidationError("is required", field=name)
        if not isinstance(new_values, Mapping) or not new_values:
            raise DataValidationError("must be a non-empty JSON object", field="new_values")
        record = {
            "override_of": decision_id,
            "reason": reason,
            "officer": officer,
            "scope": scope,
            "new_values": dict(new_values),
            **dict(details or {}),
        }
        values = self._linked_values(
            "override", record, "new_values", reason=reason, officer=officer, scope=scope,
            request_id=request_id, client_id=client_id,
        )  # fmt: skip
        try:
            with self._file_lock(), self._write_conn() as conn, conn.begin():
                self._lock(conn)
                parent = conn.execute(
                    sa.select(self.log.c.kind).where(self.log.c.decision_id == decision_id)
                ).first()
                if parent is None or parent.kind != "decision":
                    raise NotFoundError(f"decision_id: no decision {decision_id!r}")
                self._check_steps(conn, decision_id, expected_steps)
                seq, prev = self._last(conn)
                return self._insert(conn, seq + 1, prev, {**values, "created_at": _now()})
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("cannot append to the audit store", exc) from None

    def _check_steps(self, conn: Connection, decision_id: str, expected: int | None) -> None:
        if expected is None:
            return
        steps = conn.execute(
            sa.select(sa.func.count()).select_from(self.log).where(self.log.c.parent_id == decision_id)
        ).scalar()
        if steps != expected:
            raise StaleOverrideError()

    def append_review(
        self,
        decision_id: str,
        override_id: str,
        *,
        verdict: str,
        actor: Mapping[str, Any],
        comment: str | None = None,
        request_id: str | None = None,
        client_id: str | None = None,
    ) -> AuditRow:
        """Append a second officer's review (``approved`` or ``rejected``) of a pending override, in the chain.

        Raises:
            NotFoundError: no such override of that decision.
            OverrideNotPendingError: the override is not pending (in force at once, or reviewed already).
        """
        if verdict not in {"approved", "rejected"}:
            raise DataValidationError("must be approved or rejected", field="verdict")
        owner = str(actor.get("owner", ""))
        try:
            with self._file_lock(), self._write_conn() as conn, conn.begin():
                self._lock(conn)
                steps = self._read_with(
                    conn,
                    sa.select(self.log).where(self.log.c.parent_id == decision_id).order_by(self.log.c.seq),
                )
                target = next(
                    (r for r in steps if r.decision_id == override_id and r.kind == "override"), None
                )
                if target is None:
                    raise NotFoundError(
                        f"override_id: no override {override_id!r} of decision {decision_id!r}"
                    )
                reviewed = any(
                    r.kind == "override_review" and r.record.get("review_of") == override_id for r in steps
                )
                if target.record.get("status") != "pending" or reviewed:
                    raise OverrideNotPendingError()
                record = {
                    "review_of": override_id,
                    "override_of": decision_id,
                    "verdict": verdict,
                    "actor": dict(actor),
                    "comment": comment,
                    # what comes into force with an approval (indexed like an override in force)
                    "new_values": target.record.get("new_values") if verdict == "approved" else None,
                }
                values = self._linked_values(
                    "override_review", record, "review", reason=verdict, officer=owner, scope="review",
                    request_id=request_id, client_id=client_id,
                )  # fmt: skip
                seq, prev = self._last(conn)
                return self._insert(conn, seq + 1, prev, {**values, "created_at": _now()})
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("cannot append to the audit store", exc) from None

    def _linked_values(
        self,
        kind: str,
        record: dict[str, Any],
        field_name: str,
        *,
        reason: str,
        officer: str,
        scope: str,
        request_id: str | None,
        client_id: str | None,
    ) -> dict[str, Any]:
        """The columns of a row linked to a decision (an override, or a review of one): its record as
        canonical JSON, the indexed columns it carries and who, why and what."""
        text = self._canonical(record, field_name)
        return {
            "decision_id": uuid.uuid4().hex,
            "kind": kind,
            "parent_id": record["override_of"],
            "request_id": request_id,
            "client_id": client_id,
            "idempotency_key": None,
            "body_sha256": None,
            "record_json": text,
            "record_sha256": sha256_text(text),
            **extract_indexed(record, kind),
            "override_reason": reason,
            "override_officer": officer[:_MAX_TEXT],
            "override_scope": scope[:_MAX_TEXT],
        }

    # -- reads ------------------------------------------------------------------------------------
    @staticmethod
    def _read_with(conn: Connection, stmt: Any) -> list[AuditRow]:
        return [AuditRow.from_mapping(r._mapping) for r in conn.execute(stmt)]

    def _read(self, stmt: Any) -> list[AuditRow]:
        try:
            with self.engine.connect() as conn:
                return [AuditRow.from_mapping(r._mapping) for r in conn.execute(stmt)]
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("cannot read the audit store", exc) from None

    def get(self, decision_id: str) -> AuditRow | None:
        """The row with this id (decision or override), or ``None``."""
        rows = self._read(sa.select(self.log).where(self.log.c.decision_id == decision_id))
        return rows[0] if rows else None

    def overrides_of(self, decision_id: str) -> list[AuditRow]:
        """The overrides (and their reviews) linked to a decision, in chain order."""
        return self._read(
            sa.select(self.log).where(self.log.c.parent_id == decision_id).order_by(self.log.c.seq)
        )

    def find_idempotent(self, client_id: str, key: str) -> AuditRow | None:
        """The decision a client stored under an idempotency key, or ``None``."""
        rows = self._read(
            sa.select(self.log).where(self.log.c.client_id == client_id, self.log.c.idempotency_key == key)
        )
        return AuditRow.from_mapping(vars_of(rows[0]), is_new=False) if rows else None

    def count(self, kind: str | None = None) -> int:
        """Number of rows (of one kind when given)."""
        stmt = sa.select(sa.func.count()).select_from(self.log)
        if kind is not None:
            stmt = stmt.where(self.log.c.kind == kind)
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(stmt).scalar_one())
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("cannot read the audit store", exc) from None

    def iter_rows(self, *, start_seq: int = 1, chunk_size: int = 1000) -> Iterator[AuditRow]:
        """Every row in chain order, read in chunks (constant memory)."""
        next_seq = start_seq
        while True:
            chunk = self._read(
                sa.select(self.log)
                .where(self.log.c.seq >= next_seq)
                .order_by(self.log.c.seq)
                .limit(chunk_size)
            )
            yield from chunk
            if len(chunk) < chunk_size:
                return
            next_seq = chunk[-1].seq + 1

    def head(self) -> tuple[int, str]:
        """``(last seq, last row_hash)``: publish it elsewhere to make truncation of the tail evident too."""
        try:
            with self.engine.connect() as conn:
                return self._last(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("cannot read the audit store", exc) from None

    def verify(self, *, expected_head: tuple[int, str] | None = None) -> VerifyResult:
        """Walk the chain and name the first row that does not verify.

        Checks, per row in ``seq`` order: no gap in ``seq``; ``prev_hash`` equals the previous row's
        ``row_hash``; ``record_sha256`` matches ``record_json``; the indexed columns equal what the record
        says; ``row_hash`` recomputes. With ``expected_head`` (an earlier :meth:`head`), also that the chain
        still reaches it.
        """
        prev = GENESIS_HASH
        expected_seq = 1
        checked = 0
        hashes_at: dict[int, str] = {}
        for row in self.iter_rows():
            problem = self._check_row(row, prev, expected_seq)
            if problem is not None:
                return VerifyResult(False, checked, row.seq, row.decision_id, problem)
            checked += 1
            prev = row.row_hash
            expected_seq = row.seq + 1
            if expected_head is not None and row.seq == expected_head[0]:
                hashes_at[row.seq] = row.row_hash
        if expected_head is not None and hashes_at.get(expected_head[0]) != expected_head[1]:
            return VerifyResult(
                False, checked, expected_head[0], None, "chain no longer reaches the published head"
            )
        return VerifyResult(True, checked, head_hash=prev)

    @staticmethod
    def _check_row(row: AuditRow, prev: str, expected_seq: int) -> str | None:
        if row.seq != expected_seq:
            return f"seq {row.seq} follows {expected_seq - 1}: rows missing"
        if row.prev_hash != prev:
            return "prev_hash does not match the previous row's row_hash"
        if sha256_text(row.record_json) != row.record_sha256:
            return "record_json does not match record_sha256"
        try:
            import json

            record = json.loads(row.record_json)
            indexed = extract_indexed(record, row.kind)
        except (ValueError, DataValidationError) as exc:
            return f"record cannot be read ({type(exc).__name__})"
        values = vars_of(row)
        for column, value in indexed.items():
            if values[column] != value:
                return f"column {column} does not match the record"
        if compute_row_hash(row.prev_hash, values) != row.row_hash:
            return "row_hash does not match the row's content"
        return None

    def free_bytes(self) -> int | None:
        """Free space on the filesystem of an SQLite database file (None for a server or in-memory store)."""
        if self.dialect != "sqlite":
            return None
        database = sa.engine.make_url(self.url).database
        if not database or database == ":memory:":
            return None
        path = Path(database.removeprefix("file:").split("?", 1)[0]).resolve().parent
        try:
            return shutil.disk_usage(path).free
        except OSError:
            return None

    def ping(self, *, write: bool = True) -> None:
        """Check the store answers, and (by default) that it can take its write lock now.

        Raises:
            AuditError: naming why the store is unusable.
        """
        try:
            with self._write_conn() if write else self.engine.connect() as conn:
                trans = conn.begin()
                try:
                    conn.execute(sa.select(sa.func.count()).select_from(self.log).where(self.log.c.seq == 0))
                    if write and self.dialect == "sqlite":
                        # a write that touches no row: fails on a read-only file or connection
                        conn.execute(sa.delete(self.log).where(sa.false()))
                    elif write:
                        read_only = conn.exec_driver_sql("SHOW transaction_read_only").scalar()
                        may_insert = conn.execute(
                            sa.text("SELECT has_table_privilege(:t, 'INSERT')"), {"t": self.log.name}
                        ).scalar()
                        if read_only == "on" or not may_insert:
                            raise AuditError(f"audit store is read-only at {self.safe_url}")
                finally:
                    trans.rollback()
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("audit store unavailable", exc) from None


def vars_of(row: AuditRow) -> dict[str, Any]:
    """The stored columns of a row as a dict."""
    return {k: getattr(row, k) for k in AuditRow.__dataclass_fields__ if k != "is_new"}
