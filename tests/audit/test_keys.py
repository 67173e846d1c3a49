"""API keys: hashed at rest, scoped, revocable; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from credit_points.audit.keys import KEY_PATTERN, ApiKeyStore, parse_scopes
from credit_points.audit.store import AuditStore
from credit_points.exceptions import DataValidationError


def test_key_is_stored_only_as_its_hash_and_authenticates(store: AuditStore) -> None:
    keys = ApiKeyStore(store)
    # when a key is created
    key, plaintext = keys.create("core-banking", "decision:write,decision:read")
    # then the plaintext appears nowhere in the table, only its SHA-256
    with store.engine.connect() as conn:
        dumped = " ".join(str(v) for row in conn.execute(sa.select(store.keys)) for v in row)
    assert plaintext not in dumped and plaintext.split("_")[-1] not in dumped
    assert hashlib.sha256(plaintext.encode()).hexdigest() in dumped
    assert KEY_PATTERN.fullmatch(plaintext) and key.key_id in plaintext
    # and the key authenticates with its scopes
    found = keys.authenticate(plaintext)
    assert (
        found is not None
        and found.scopes == ("decision:read", "decision:write")
        and found.name == "core-banking"
    )


def test_wrong_malformed_and_revoked_keys_do_not_authenticate(store: AuditStore) -> None:
    keys = ApiKeyStore(store)
    key, plaintext = keys.create("a", ["admin"])
    tampered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert keys.authenticate(tampered) is None
    assert (
        keys.authenticate("") is None
        and keys.authenticate(None) is None
        and keys.authenticate("x" * 500) is None
    )
    assert keys.revoke(key_id=key.key_id) == 1
    assert keys.authenticate(plaintext) is None
    assert keys.revoke(key_id=key.key_id) == 0  # already revoked
    assert [k.active for k in keys.list()] == [False] and keys.list(include_revoked=False) == []


def test_revoke_by_name_revokes_every_active_key_of_that_name(store: AuditStore) -> None:
    keys = ApiKeyStore(store)
    keys.create("crm", "report:read")
    keys.create("crm", "report:read")
    _, other = keys.create("ops", "admin")
    assert keys.revoke(name="crm") == 2
    assert keys.authenticate(other) is not None


@pytest.mark.parametrize("scopes", ["", "decision:delete", "admin,root"])
def test_unknown_or_missing_scopes_are_refused(scopes: str) -> None:
    with pytest.raises(DataValidationError, match="scope"):
        parse_scopes(scopes)


def test_the_key_cache_remembers_only_accepted_keys(store: AuditStore) -> None:
    keys = ApiKeyStore(store, cache_ttl_s=60)
    _, plain = keys.create("crm", ["decision:read"])
    assert keys.cached(plain) is None  # nothing before the database said yes
    assert keys.authenticate(plain) is not None
    assert keys.cached(plain) is not None and keys.cached(plain + "x") is None
    assert keys.authenticate("cpk_000000000000_" + "A" * 43) is None
    assert keys.revoke(name="crm") == 1
    assert keys.cached(plain) is None and keys.authenticate(plain) is None
