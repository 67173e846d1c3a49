"""The audit store on SQLite and PostgreSQL: chain, verify, tampering, triggers, concurrency, overrides."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit_points.audit.store import (
    GENESIS_HASH,
    HASHED_COLUMNS,
    AuditRow,
    AuditStore,
    DecisionAppend,
    EncodedDecisions,
    IdempotencyConflictError,
    NotFoundError,
    extract_indexed,
    vars_of,
)
from credit_points.exceptions import AuditError, DataValidationError


def make_record(i: int, prob_default: float = 0.0123456789, limit: float = 500000.0) -> dict:
    return {
        "input_sha256": hashlib.sha256(f"applicant-{i}".encode()).hexdigest(),
        "points": {"config_version": "1.0.0", "config_hash": "ab" * 32, "points_total": 101.5},
        "model": {
            "name": "credit-points",
            "version": "7",
            "artifact_hash": "cd" * 32,
            "feature_order_hash": "ef" * 32,
        },
        "risk": {"prob_default": prob_default, "grade": "B2"},
        "limit": {"limit": limit, "binding_constraint": "cap"},
        "decision": "approve",
        "reason_codes": [],
    }


def independent_row_hash(prev_hash: str, row: dict) -> str:
    content = {k: row[k] for k in HASHED_COLUMNS}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


def bypass_triggers(store: AuditStore, conn: sa.Connection) -> None:
    t = store.log.name
    if store.dialect == "sqlite":
        conn.exec_driver_sql(f"DROP TRIGGER {t}_no_update")
        conn.exec_driver_sql(f"DROP TRIGGER {t}_no_delete")
    else:
        conn.exec_driver_sql(f"ALTER TABLE {t} DISABLE TRIGGER {t}_append_only")


def test_chain_links_each_row_to_the_previous_and_verifies(store: AuditStore) -> None:
    # given five decisions appended
    rows = [store.append_decision(make_record(i), request_id=f"r{i}", client_id="c1") for i in range(5)]
    # when the chain is read back and verified
    stored = list(store.iter_rows())
    result = store.verify()
    # then seqs are contiguous, each prev_hash is the previous row_hash, and hashes recompute independently
    assert [r.seq for r in stored] == [1, 2, 3, 4, 5]
    assert stored[0].prev_hash == GENESIS_HASH
    for before, after in zip(stored, stored[1:], strict=False):
        assert after.prev_hash == before.row_hash
    for row in stored:
        assert row.row_hash == independent_row_hash(row.prev_hash, vars_of(row))
        assert row.record_sha256 == hashlib.sha256(row.record_json.encode()).hexdigest()
    assert [r.decision_id for r in stored] == [r.decision_id for r in rows]
    assert result.ok and result.rows_checked == 5 and result.head_hash == stored[-1].row_hash
    assert store.count() == 5


def test_indexed_columns_are_pulled_out_of_the_record(store: AuditStore) -> None:
    record = make_record(1, prob_default=0.031, limit=1230000)
    row = store.append_decision(record, request_id="r", client_id="c")
    got = store.get(row.decision_id)
    assert got is not None
    assert got.input_sha256 == record["input_sha256"]
    assert (got.points_config_version, got.points_config_hash) == ("1.0.0", "ab" * 32)
    assert (got.model_name, got.model_version) == ("credit-points", "7")
    assert (got.model_artifact_hash, got.model_feature_order_hash) == ("cd" * 32, "ef" * 32)
    assert got.prob_default == 0.031 and got.limit_amount == 1230000.0 and got.decision == "approve"
    assert got.record == record
    assert got.created_at.endswith("+00:00")


def test_an_indexed_key_of_the_wrong_type_is_refused_and_nothing_is_written(store: AuditStore) -> None:
    record = make_record(1)
    record["risk"]["prob_default"] = "0.1"
    with pytest.raises(DataValidationError, match="risk.prob_default"):
        store.append_decision(record, request_id="r", client_id="c")
    assert store.count() == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prob_default=st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
    extra=st.floats(allow_nan=False, allow_infinity=False),
)
def test_floats_survive_the_round_trip_exactly(store: AuditStore, prob_default: float, extra: float) -> None:
    # given a record with arbitrary doubles
    record = make_record(0, prob_default=prob_default)
    record["risk"]["raw_score"] = extra
    # when stored and read back
    row = store.append_decision(record, request_id="r", client_id="c")
    got = store.get(row.decision_id)
    # then the values are bit-identical, in the JSON and in the indexed column
    assert got is not None
    assert got.record["risk"]["raw_score"].hex() == float(extra).hex()
    assert got.record["risk"]["prob_default"].hex() == prob_default.hex()
    assert got.prob_default is not None and got.prob_default.hex() == prob_default.hex()
    assert store.verify().ok


@pytest.mark.parametrize("statement", ["UPDATE {t} SET decision = 'decline'", "DELETE FROM {t}"])
def test_triggers_reject_update_and_delete(store: AuditStore, statement: str) -> None:
    row = store.append_decision(make_record(1), request_id="r", client_id="c")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.exec_driver_sql(statement.format(t=store.log.name))
    assert store.get(row.decision_id) == row
    assert store.verify().ok


@pytest.mark.parametrize(
    ("target", "tamper"),
    [
        ("record", "UPDATE {t} SET record_json = replace(record_json, 'approve', 'decline') WHERE seq = 3"),
        ("column", "UPDATE {t} SET prob_default = 0.5 WHERE seq = 3"),
        ("client", "UPDATE {t} SET client_id = 'someone-else' WHERE seq = 3"),
        ("deleted", "DELETE FROM {t} WHERE seq = 3"),
    ],
)
def test_verify_names_the_first_altered_row(store: AuditStore, target: str, tamper: str) -> None:
    # given a verified chain of six rows
    rows = [store.append_decision(make_record(i), request_id=f"r{i}", client_id="c") for i in range(6)]
    assert store.verify().ok
    # when row 3 is altered (or removed) behind the triggers' back
    with store.engine.begin() as conn:
        bypass_triggers(store, conn)
        conn.exec_driver_sql(tamper.format(t=store.log.name))
    result = store.verify()
    # then the verifier fails at row 3 (or, for a deletion, at the row after the gap)
    assert not result.ok
    assert result.first_bad_seq == (4 if target == "deleted" else 3)
    assert result.first_bad_decision_id == rows[result.first_bad_seq - 1].decision_id
    assert result.rows_checked == 2 and result.reason


def test_rewriting_a_row_with_a_fresh_hash_is_caught_at_the_next_row(store: AuditStore) -> None:
    rows = [store.append_decision(make_record(i), request_id=f"r{i}", client_id="c") for i in range(4)]
    # when an attacker edits row 2 and recomputes that row's own hash
    victim = vars_of(rows[1]) | {"decision": "decline"}
    forged = independent_row_hash(victim["prev_hash"], victim)
    with store.engine.begin() as conn:
        bypass_triggers(store, conn)
        conn.exec_driver_sql(
            f"UPDATE {store.log.name} SET row_hash = '{forged}', decision = 'decline' WHERE seq = 2"
        )
    result = store.verify()
    # then row 2 no longer matches its record, and had they forged that too, row 3's link would break
    assert not result.ok and result.first_bad_seq == 2 and "decision" in (result.reason or "")


def test_published_head_detects_a_truncated_tail(store: AuditStore) -> None:
    for i in range(3):
        store.append_decision(make_record(i), request_id="r", client_id="c")
    head = store.head()
    with store.engine.begin() as conn:
        bypass_triggers(store, conn)
        conn.exec_driver_sql(f"DELETE FROM {store.log.name} WHERE seq = 3")
    assert store.verify().ok  # a chain cut at its end still verifies on its own ...
    result = store.verify(expected_head=head)
    assert not result.ok and result.first_bad_seq == 3  # ... but not against the head published earlier


def test_concurrent_appenders_never_fork_the_chain(store: AuditStore) -> None:
    # given 8 threads appending 15 decisions each at the same time
    n_threads, per_thread = 8, 15
    errors: list[BaseException] = []
    start = threading.Barrier(n_threads)

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                store.append_decision(make_record(t * 1000 + i), request_id=f"t{t}-{i}", client_id=f"c{t}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # then every append landed once, in one unbroken chain
    assert errors == []
    rows = list(store.iter_rows(chunk_size=7))
    assert [r.seq for r in rows] == list(range(1, n_threads * per_thread + 1))
    assert len({r.prev_hash for r in rows}) == len(rows)
    assert store.verify().ok


def test_override_is_a_linked_row_and_the_original_stays_byte_identical(store: AuditStore) -> None:
    original = store.append_decision(make_record(1), request_id="r1", client_id="c")
    before = vars_of(store.get(original.decision_id))
    # when an officer overrides the limit
    override = store.append_override(
        original.decision_id,
        reason="抵押补充 collateral added",
        officer="officer-17",
        scope="limit",
        new_values={"limit": 300000, "decision": "approve"},
        request_id="r2",
        client_id="c",
    )
    # then a new row links to the original, which has not changed by one byte
    assert override.kind == "override" and override.parent_id == original.decision_id
    assert override.prev_hash == original.row_hash and override.seq == original.seq + 1
    assert override.limit_amount == 300000.0 and override.override_officer == "officer-17"
    assert override.record["reason"] == "抵押补充 collateral added"
    assert vars_of(store.get(original.decision_id)) == before
    assert [r.decision_id for r in store.overrides_of(original.decision_id)] == [override.decision_id]
    assert store.count() == 2 and store.count("override") == 1 and store.verify().ok


def test_override_needs_an_existing_decision_and_a_reason(store: AuditStore) -> None:
    original = store.append_decision(make_record(1), request_id="r1", client_id="c")
    with pytest.raises(NotFoundError):
        store.append_override("f" * 32, reason="x", officer="o", scope="limit", new_values={"limit": 1})
    override = store.append_override(
        original.decision_id, reason="x", officer="o", scope="limit", new_values={"limit": 1}
    )
    with pytest.raises(NotFoundError):  # an override is overridden through its decision, not chained
        store.append_override(
            override.decision_id, reason="x", officer="o", scope="limit", new_values={"limit": 2}
        )
    with pytest.raises(DataValidationError, match="reason"):
        store.append_override(
            original.decision_id, reason=" ", officer="o", scope="limit", new_values={"limit": 1}
        )
    with pytest.raises(DataValidationError, match="new_values"):
        store.append_override(original.decision_id, reason="x", officer="o", scope="limit", new_values={})
    assert store.count() == 2


def test_idempotency_same_key_and_body_returns_the_first_row(store: AuditStore) -> None:
    first = store.append_decision(
        make_record(1), request_id="r1", client_id="c", idempotency_key="k-1", body_sha256="b" * 64
    )
    again = store.append_decision(
        make_record(1), request_id="r2", client_id="c", idempotency_key="k-1", body_sha256="b" * 64
    )
    assert first.is_new and not again.is_new
    assert again.decision_id == first.decision_id and again.request_id == "r1"
    found = store.find_idempotent("c", "k-1")
    assert found is not None and found.decision_id == first.decision_id
    assert store.find_idempotent("other-client", "k-1") is None
    assert store.count() == 1


def test_idempotency_same_key_other_body_is_refused(store: AuditStore) -> None:
    store.append_decision(
        make_record(1), request_id="r1", client_id="c", idempotency_key="k-1", body_sha256="b" * 64
    )
    with pytest.raises(IdempotencyConflictError):
        store.append_decision(
            make_record(2), request_id="r2", client_id="c", idempotency_key="k-1", body_sha256="c" * 64
        )
    # another client may use the same key
    other = store.append_decision(
        make_record(2), request_id="r3", client_id="d", idempotency_key="k-1", body_sha256="c" * 64
    )
    assert other.is_new and store.count() == 2 and store.verify().ok


def test_batch_append_is_all_or_nothing(store: AuditStore) -> None:
    store.append_decision(
        make_record(0), request_id="r0", client_id="c", idempotency_key="k", body_sha256="a" * 64
    )
    with pytest.raises(IdempotencyConflictError):
        store.append_decisions(
            [make_record(1), make_record(2)],
            request_id="b",
            client_id="c",
            idempotency_keys=[None, "k"],
            body_sha256s=[None, "z" * 64],
        )
    assert store.count() == 1
    rows = store.append_decisions([make_record(1), make_record(2)], request_id="b", client_id="c")
    assert [r.seq for r in rows] == [2, 3] and store.verify().ok


def test_independent_items_in_one_commit_each_get_their_own_outcome(store: AuditStore) -> None:
    # given four callers' decisions committed together: two repeat one idempotency key with the same body,
    # one reuses it with another body, and one record has an indexed key of the wrong type
    bad = make_record(9)
    bad["risk"]["prob_default"] = "high"
    items = [
        DecisionAppend(make_record(1), "r1", "c", idempotency_key="k", body_sha256="a" * 64),
        DecisionAppend(make_record(1), "r2", "c", idempotency_key="k", body_sha256="a" * 64),
        DecisionAppend(make_record(2), "r3", "c", idempotency_key="k", body_sha256="b" * 64),
        DecisionAppend(bad, "r4", "c"),
        DecisionAppend(make_record(3), "r5", "c"),
    ]
    first, repeat, conflict, refused, plain = store.append_decision_items(items)
    # then the repeat gets the first row back, the conflict and the bad record fail alone, and the rest
    # are chained in order
    assert isinstance(first, AuditRow) and first.is_new and first.seq == 1
    assert isinstance(repeat, AuditRow) and not repeat.is_new and repeat.decision_id == first.decision_id
    assert isinstance(conflict, IdempotencyConflictError)
    assert isinstance(refused, DataValidationError) and "prob_default" in str(refused)
    assert isinstance(plain, AuditRow) and plain.seq == 2 and plain.prev_hash == first.row_hash
    assert store.count() == 2 and store.verify().ok
    # and an idempotent repeat in a later commit still finds the first row
    (later,) = store.append_decision_items(
        [DecisionAppend(make_record(1), "r6", "c", idempotency_key="k", body_sha256="a" * 64)]
    )
    assert isinstance(later, AuditRow) and later.decision_id == first.decision_id and store.count() == 2


def test_ping_succeeds_on_a_writable_store(store: AuditStore) -> None:
    store.ping()
    store.ping(write=False)


def test_read_only_sqlite_is_reported_unavailable_and_writes_nothing(tmp_path) -> None:
    path = tmp_path / "audit.db"
    writable = AuditStore(f"sqlite:///{path}")
    writable.create_schema()
    writable.append_decision(make_record(1), request_id="r", client_id="c")
    read_only = AuditStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(AuditError, match="unavailable"):
        read_only.ping()
    read_only.ping(write=False)
    with pytest.raises(AuditError):
        read_only.append_decision(make_record(2), request_id="r", client_id="c")
    assert writable.count() == 1 and writable.verify().ok


@pytest.mark.timeout(30)
def test_unreachable_postgres_fails_without_the_password_in_the_message() -> None:
    store = AuditStore("postgresql+psycopg://auditor:s3cret-pw@127.0.0.1:9/audit", connect_timeout_s=1)
    with pytest.raises(AuditError) as info:
        store.ping()
    assert "s3cret-pw" not in str(info.value)


def test_a_conflict_in_a_group_commit_fails_only_its_own_caller(store: AuditStore) -> None:
    # given many threads appending at once, four of them racing on one idempotency key with different bodies
    n = 12
    outcomes: dict[int, str] = {}
    start = threading.Barrier(n)

    def work(i: int) -> None:
        start.wait()
        key = "shared-key" if i < 4 else None
        try:
            store.append_decision(
                make_record(i),
                request_id=f"r{i}",
                client_id="c",
                idempotency_key=key,
                body_sha256=f"{i:064d}",
            )
            outcomes[i] = "stored"
        except IdempotencyConflictError:
            outcomes[i] = "conflict"

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # then exactly one of the racers won, the other three were refused, and every other append landed
    racers = [outcomes[i] for i in range(4)]
    assert racers.count("stored") == 1 and racers.count("conflict") == 3
    assert all(outcomes[i] == "stored" for i in range(4, n))
    assert store.count() == n - 3 and store.verify().ok


def encoded(records: list[dict]) -> EncodedDecisions:
    texts = [json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for r in records]
    indexed = [extract_indexed(r) for r in records]
    return EncodedDecisions(
        texts=texts,
        record_sha256=[hashlib.sha256(t.encode()).hexdigest() for t in texts],
        indexed={c: [row[c] for row in indexed] for c in indexed[0]},
    )


def test_encoded_batch_rows_chain_verify_and_a_second_run_adds_nothing(store: AuditStore) -> None:
    # given an API decision already stored, and a batch of 30 encoded decisions (one key repeated)
    store.append_decision(make_record(-1), request_id="api", client_id="key-1")
    records = [make_record(i, prob_default=0.001 * (i + 1), limit=1000.0 * i) for i in range(30)]
    keys = [f"row-{i}" for i in range(29)] + ["row-3"]
    records[29] = records[3]
    batch = encoded(records)
    # when the batch is appended
    first = store.append_encoded(batch, request_id="job-1", client_id="cli:score", idempotency_keys=keys)
    # then 29 rows are written (the repeated key answers with its first row), chained after the API row
    assert first.added == 29 and first.decision_ids[29] == first.decision_ids[3]
    assert store.count() == 30 and store.verify().ok
    rows = list(store.iter_rows())
    for row in rows[1:]:  # every hash recomputed independently of the store's template
        assert row.row_hash == independent_row_hash(row.prev_hash, vars_of(row))
    stored = store.get(first.decision_ids[7])
    assert stored is not None and stored.record == records[7] and stored.idempotency_key == "row-7"
    assert stored.prob_default == records[7]["risk"]["prob_default"] and stored.request_id == "job-1"
    # when the same batch is appended again: nothing is added and the same ids come back
    again = store.append_encoded(batch, request_id="job-2", client_id="cli:score", idempotency_keys=keys)
    assert again.added == 0 and again.decision_ids == first.decision_ids
    assert store.count() == 30 and store.verify().ok


def test_an_encoded_batch_with_a_key_stored_for_another_input_writes_nothing(store: AuditStore) -> None:
    # given a batch row stored under a key
    store.append_encoded(
        encoded([make_record(1)]), request_id="j1", client_id="cli:score", idempotency_keys=["k"]
    )
    # when a batch reuses the key for another input, or carries a value of the wrong type
    with pytest.raises(IdempotencyConflictError):
        store.append_encoded(
            encoded([make_record(2), make_record(3)]),
            request_id="j2",
            client_id="cli:score",
            idempotency_keys=["k2", "k"],
        )
    bad = encoded([make_record(4)])
    bad = EncodedDecisions(bad.texts, bad.record_sha256, {**bad.indexed, "prob_default": ["0.1"]})
    with pytest.raises(DataValidationError, match="risk.prob_default"):
        store.append_encoded(bad, request_id="j3", client_id="cli:score", idempotency_keys=["k4"])
    # then only the first row is there
    assert store.count() == 1 and store.verify().ok


def test_postgres_compresses_new_records_with_lz4_and_schema_creation_stays_repeatable(
    store: AuditStore,
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("a PostgreSQL column setting")
    store.create_schema()  # again: nothing to change, nothing fails
    query = (
        "SELECT attcompression FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attname = 'record_json'"
    )
    with store.engine.connect() as conn:
        assert conn.execute(sa.text(query), {"t": store.log.name}).scalar() == "l"
    row = store.append_decision(make_record(1), request_id="r", client_id="c")
    assert store.get(row.decision_id) == row and store.verify().ok
