"""API keys: created once and shown once, stored only as SHA-256 hashes, with scopes, revocable.

A key looks like ``cpk_<key id>_<secret>``. The key id (12 hex digits) is not secret: it names the key in
lists, logs and the audit rows' ``client_id``. Only the SHA-256 of the whole key is stored, in the same
database as the audit log.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from credit_points.audit.store import AuditStore
from credit_points.config import sha256_text
from credit_points.exceptions import AuditError, DataValidationError

SCOPES: tuple[str, ...] = (
    "decision:write",
    "decision:read",
    "report:read",
    "decision:override",
    "decision:approve",
    "admin",
)
"""Every scope a key can hold. Scopes are exact: ``admin`` does not imply the others."""

KEY_PATTERN = re.compile(r"cpk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")
"""What a key looks like (used by the log filter to scrub keys)."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never its secret)."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(key: str) -> str:
    """The stored form of a key.

    Examples:
        >>> hash_key("cpk_x") == hash_key("cpk_x") != hash_key("cpk_y")
        True
    """
    return sha256_text(key)


def parse_scopes(scopes: str | Iterable[str]) -> tuple[str, ...]:
    """Scopes from ``"a,b"`` or a list, checked against :data:`SCOPES`, sorted and deduplicated.

    Examples:
        >>> parse_scopes("decision:read, decision:write")
        ('decision:read', 'decision:write')
    """
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    cleaned = sorted({s.strip() for s in items if s.strip()})
    if not cleaned:
        raise DataValidationError(
            f"at least one scope is required; choose from {', '.join(SCOPES)}", field="scopes"
        )
    unknown = [s for s in cleaned if s not in SCOPES]
    if unknown:
        raise DataValidationError(
            f"unknown scope; choose from {', '.join(SCOPES)}", field="scopes", value=unknown[0]
        )
    return tuple(cleaned)


class ApiKeyStore:
    """Keys in the audit store's database (table ``<prefix>api_keys``).

    Args:
        store: the audit store whose database holds the keys.
        cache_ttl_s: how long a successful :meth:`authenticate` is remembered in this process (0: never),
            so that a busy API does not query the database on every request. A key revoked elsewhere
            (``credit-points apikey revoke``) stops working here within this time; unknown or revoked
            keys are never cached, so a new key works at once.
    """

    _CACHE_MAX = 1024

    def __init__(self, store: AuditStore, *, cache_ttl_s: float = 0.0) -> None:
        self.store = store
        self.table = store.keys
        self.cache_ttl_s = cache_ttl_s
        self._cache: dict[str, tuple[ApiKey, float]] = {}

    def _row(self, row: sa.Row) -> ApiKey:  # type: ignore[type-arg]
        return ApiKey(row.key_id, row.name, tuple(row.scopes.split()), row.created_at, row.revoked_at)

    def create(self, name: str, scopes: str | Iterable[str]) -> tuple[ApiKey, str]:
        """Create a key; returns it and its plaintext, which is not kept anywhere and cannot be shown again."""
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise DataValidationError("must be 1-200 characters", field="name")
        scope_tuple = parse_scopes(scopes)
        key_id = secrets.token_hex(6)
        plaintext = f"cpk_{key_id}_{secrets.token_urlsafe(32)}"
        created = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self.store.engine.begin() as conn:
                conn.execute(
                    sa.insert(self.table).values(
                        key_id=key_id,
                        key_hash=hash_key(plaintext),
                        name=name.strip(),
                        scopes=" ".join(scope_tuple),
                        created_at=created,
                        revoked_at=None,
                    )
                )
        except sa.exc.SQLAlchemyError as exc:
            raise self.store._unavailable("cannot store the key", exc) from None
        return ApiKey(key_id, name.strip(), scope_tuple, created, None), plaintext

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        """Every key, oldest first."""
        stmt = sa.select(self.table).order_by(self.table.c.created_at, self.table.c.key_id)
        if not include_revoked:
            stmt = stmt.where(self.table.c.revoked_at.is_(None))
        try:
            with self.store.engine.connect() as conn:
                return [self._row(r) for r in conn.execute(stmt)]
        except sa.exc.SQLAlchemyError as exc:
            raise self.store._unavailable("cannot read the keys", exc) from None

    def revoke(self, *, key_id: str | None = None, name: str | None = None) -> int:
        """Revoke one key by id, or every active key of a name; returns how many were revoked."""
        if (key_id is None) == (name is None):
            raise DataValidationError("give exactly one of key_id or name", field="key_id")
        column = self.table.c.key_id if key_id is not None else self.table.c.name
        try:
            with self.store.engine.begin() as conn:
                result = conn.execute(
                    sa.update(self.table)
                    .where(
                        column == (key_id if key_id is not None else name), self.table.c.revoked_at.is_(None)
                    )
                    .values(revoked_at=datetime.now(UTC).isoformat(timespec="seconds"))
                )
                self._cache.clear()  # whichever key it was, this process stops accepting it now
                return int(result.rowcount)
        except sa.exc.SQLAlchemyError as exc:
            raise self.store._unavailable("cannot revoke the key", exc) from None

    def authenticate(self, plaintext: str | None) -> ApiKey | None:
        """The active key matching ``plaintext``, or ``None`` (unknown, malformed or revoked).

        Raises:
            AuditError: the database is unavailable (the caller answers 503, not 401).
        """
        if not plaintext or not KEY_PATTERN.fullmatch(plaintext):
            return None
        digest = hash_key(plaintext)
        try:
            with self.store.engine.connect() as conn:
                row = conn.execute(sa.select(self.table).where(self.table.c.key_hash == digest)).first()
        except sa.exc.SQLAlchemyError as exc:
            raise self.store._unavailable("cannot check the key", exc) from None
        if row is None or row.revoked_at is not None:
            self._cache.pop(digest, None)
            return None
        key = self._row(row)
        if self.cache_ttl_s > 0:
            if len(self._cache) >= self._CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = (key, time.monotonic() + self.cache_ttl_s)
        return key

    def cached(self, plaintext: str | None) -> ApiKey | None:
        """The key :meth:`authenticate` accepted within the last ``cache_ttl_s`` seconds, else ``None``.

        No database access: cheap enough for the event loop. ``None`` means "ask :meth:`authenticate`".
        """
        if not plaintext or not self._cache or not KEY_PATTERN.fullmatch(plaintext):
            return None
        hit = self._cache.get(hash_key(plaintext))
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]


__all__ = ["SCOPES", "KEY_PATTERN", "ApiKey", "ApiKeyStore", "AuditError", "hash_key", "parse_scopes"]
