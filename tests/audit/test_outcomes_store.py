"""The outcomes tables' reads: the parts of each record the training table needs, exactly as stored."""

from __future__ import annotations

import pandas as pd

from credit_points.audit.outcomes import OutcomeStore
from credit_points.audit.store import AuditStore


def test_decision_parts_read_by_the_database_equal_the_parsed_record(store: AuditStore) -> None:
    # given decisions whose numbers have awkward binary forms, and an override
    outcomes = OutcomeStore(store)
    outcomes.create_schema()
    ids = []
    for i, pd_value in enumerate([0.1 + 0.2, 1e-7, 0.012345678901234567, 5e-324]):
        record = {
            "firm_id": f"F{i}", "as_of_date": "2024-03-01", "decision": "approve",
            "input": {"revenue": 12345678.9 * (i + 1), "name": 'a "quoted" 名字 {}', "flag": i % 2 == 0},
            "points": {"stage": "growth", "total": 1 / 3 + i, "core": 0.1 * i, "bonus": 2.0, "deductions": -1e-5,
                       "categories": {"tech": 1 / 7, "growth": 3.0 + i}, "config_hash": "ab" * 32},
            "risk": {"prob_default": pd_value, "grade": "B1"},
        }  # fmt: skip
        ids.append(store.append_decision(record, request_id="r", client_id="c").decision_id)
    store.append_override(
        ids[0], reason="r", officer="o", scope="decision", new_values={"decision": "decline"}
    )
    # when read through the database's JSON operators, and by parsing each record in Python
    fast = list(outcomes.decision_parts(chunk_size=2))
    parsed = list(outcomes._decision_parts_parsed(chunk_size=2))
    # then every part is the same value, bit for bit
    assert fast == parsed and len(fast) == 5
    assert fast[0].prob_default == 0.1 + 0.2 and fast[3].prob_default == 5e-324
    assert fast[1].input == {"revenue": 12345678.9 * 2, "name": 'a "quoted" 名字 {}', "flag": False}
    assert fast[2].points_core == 0.1 * 2 and fast[2].points_deductions == -1e-5
    assert (
        fast[2].points_categories == {"tech": 1 / 7, "growth": 5.0}
        and fast[2].points_config_hash == "ab" * 32
    )
    assert (
        fast[4].kind == "override" and fast[4].override_decision == "decline" and fast[4].parent_id == ids[0]
    )


def test_the_dataset_reads_each_input_exactly_as_stored(store: AuditStore) -> None:
    from credit_points.pipelines.outcomes import build_dataset

    values = [0.1 + 0.2, 1e-7, 123456789012.5, 5e-324, 17325200.0]
    for i, value in enumerate(values):
        record = {"firm_id": f"F{i}", "as_of_date": f"2024-03-0{i + 1}", "decision": "decline",
                  "input": {"firm_id": f"F{i}", "as_of_date": f"2024-03-0{i + 1}", "revenue": value,
                            "name": 'line\nbreak "q" 名', "capital_market": True}}  # fmt: skip
        store.append_decision(record, request_id="r", client_id="c")
    dataset = build_dataset(store)
    assert dataset["revenue"].tolist() == values
    assert dataset["name"].tolist() == ['line\nbreak "q" 名'] * 5 and dataset["capital_market"].all()
    assert dataset["as_of_date"].tolist() == [f"2024-03-0{i + 1}" for i in range(5)]


def test_the_dataset_is_the_same_read_by_one_process_or_by_several(store: AuditStore) -> None:
    # Given decisions under two points configurations, overrides whose decision is in an earlier slice of
    # the log, a firm decided twice, and the bank's historical book
    from credit_points.audit.outcomes import ImportRecord
    from credit_points.pipelines.outcomes import build_dataset

    outcomes = OutcomeStore(store)
    outcomes.create_schema()
    ids = []
    for i in range(14):
        categories = {"tech": i / 3, "growth": 1.5} if i % 2 else {"tech": 2.0, "ip": i / 7}
        record = {
            "firm_id": f"F{i % 11}", "as_of_date": f"2024-0{1 + i % 11 % 9}-01", "decision": ("approve", "refer")[i % 2],
            "model_version": "3", "input": {"revenue": 1e6 + i, "srdi": "none"},
            "points": {"stage": "growth", "total": 40.0 + i / 3, "core": 30.0, "bonus": 1 / 3, "deductions": 0.0,
                       "categories": categories, "config_hash": "ab" * 32 if i % 2 else "cd" * 32},
            "risk": {"prob_default": 0.01 + i / 1000, "grade": "B1"},
        }  # fmt: skip
        ids.append(store.append_decision(record, request_id="r", client_id="c").decision_id)
    for i in (5, 7):
        store.append_override(
            ids[i], reason="r", officer="o", scope="decision", new_values={"decision": "approve"}
        )
    store.append_override(
        ids[5], reason="r", officer="o", scope="decision", new_values={"decision": "decline"}
    )
    history = {"decision_id": "h" + "0" * 31, "firm_id": "F99", "as_of_date": "2021-06-30", "decision": "approve",
               "booked": True, "previous_model_pd": 0.02, "input_json": '{"revenue": 5.5, "srdi": "none"}', "file_sha256": "2" * 64}  # fmt: skip
    outcomes.append(
        ImportRecord("2" * 64, "history", "h.csv", "2025-01-01", 1, 1, 0, 0),
        [history],
        table=outcomes.history,
    )

    # When the table is built by one process, and by two reading slices of 4 rows
    one = build_dataset(store, workers=1, slice_rows=4)
    two = build_dataset(store, workers=2, slice_rows=4)

    # Then they are the same table; the last override of a decision is in force, every category is there
    pd.testing.assert_frame_equal(one, two)
    by_id = one.set_index("decision_id")
    assert by_id.loc[ids[5], "decision"] == "decline" and by_id.loc[ids[7], "decision"] == "approve"
    assert ids[12] in by_id.index and ids[1] not in by_id.index  # the latest decision of an application
    assert {"points_cat_tech_decided", "points_cat_growth_decided", "points_cat_ip_decided"} <= set(
        one.columns
    )
    assert by_id.loc[ids[5], "points_cat_growth_decided"] == 1.5 and pd.isna(
        by_id.loc[ids[5], "points_cat_ip_decided"]
    )
    assert by_id.loc["h" + "0" * 31, "source"] == "history" and pd.isna(
        by_id.loc["h" + "0" * 31, "points_total_decided"]
    )
    assert one["points_total_decided"].dtype == "float64" and len(one) == 12


def test_a_pending_or_rejected_override_never_counts_and_an_approved_one_counts_from_its_approval(
    store: AuditStore,
) -> None:
    from credit_points.pipelines.outcomes import decisions_from_audit

    ids = [
        store.append_decision(
            {"firm_id": f"F{i}", "as_of_date": "2024-03-01", "decision": "decline", "limit": {"limit": 0.0}},
            request_id="r",
            client_id="c",
        ).decision_id
        for i in range(3)
    ]
    approve = {"decision": "approve", "limit": 500_000.0}
    asked = {
        did: store.append_override(
            did,
            reason="r",
            officer="officer-a",
            scope="decision",
            new_values=approve,
            details={"status": "pending"},
        ).decision_id
        for did in ids
    }
    # one approved by a second officer, one rejected, one left pending
    store.append_review(
        ids[0], asked[ids[0]], verdict="approved", actor={"key_id": "b", "owner": "approver-b"}
    )
    store.append_review(
        ids[1], asked[ids[1]], verdict="rejected", actor={"key_id": "b", "owner": "approver-b"}
    )
    decided = decisions_from_audit(store).set_index("decision_id")["decision"].to_dict()
    assert decided == {ids[0]: "approve", ids[1]: "decline", ids[2]: "decline"}
    in_force = OutcomeStore(store).overrides()
    assert [(o["parent_id"], o["new_values"], o["officer"]) for o in in_force] == [
        (ids[0], approve, "officer-a")
    ]
    assert in_force[0]["seq"] == store.head()[0] - 1  # counted from the approval row, not the request
    assert store.verify().ok
