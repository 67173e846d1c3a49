"""The outcomes tables' reads: the parts of each record the training table needs, exactly as stored."""

from __future__ import annotations

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
