"""Replay through an injected function: differences listed, PD within 1e-12, everything else exact."""

from __future__ import annotations

import copy

import pytest

from credit_points.audit.replay import diff_records, replay_decision
from credit_points.audit.store import AuditStore, NotFoundError

RECORD = {
    "input": {"revenue": 12000000.0, "firm_id": "x"},
    "risk": {"prob_default": 0.0234567, "grade": "B1"},
    "limit": {"limit": 800000.0, "waterfall": [1000000.0, 900000.0, 800000.0]},
    "reason_codes": ["R01", "R07"],
    "decision": "approve",
}


def test_identical_replay_matches(store: AuditStore) -> None:
    row = store.append_decision(RECORD, request_id="r", client_id="c")
    calls: list[dict] = []

    def replay(record: dict) -> dict:
        calls.append(record)
        return copy.deepcopy(record)

    result = replay_decision(store, row.decision_id, replay)
    assert result.matches and result.differences == ()
    assert calls == [RECORD]  # the function received the stored record


def test_pd_within_tolerance_matches_and_beyond_does_not(store: AuditStore) -> None:
    row = store.append_decision(RECORD, request_id="r", client_id="c")

    def nudge(delta: float):
        def replay(record: dict) -> dict:
            out = copy.deepcopy(record)
            out["risk"]["prob_default"] += delta
            return out

        return replay

    assert replay_decision(store, row.decision_id, nudge(5e-13)).matches
    result = replay_decision(store, row.decision_id, nudge(1e-9))
    assert not result.matches and [d.path for d in result.differences] == ["risk.prob_default"]


def test_any_other_change_is_a_difference() -> None:
    changed = copy.deepcopy(RECORD)
    changed["limit"]["waterfall"][2] = 800000.0 + 1e-9
    changed["reason_codes"] = ["R07", "R01"]
    changed["extra"] = 1
    paths = [d.path for d in diff_records(RECORD, changed)]
    assert paths == ["extra", "limit.waterfall[2]", "reason_codes[0]", "reason_codes[1]"]
    assert diff_records({"a": True}, {"a": 1}) != []  # a bool is not a number
    assert diff_records({"a": 1}, {"a": 1.0}) == []
    assert diff_records({"t": "x", "a": 1}, {"t": "y", "a": 1}, ignore={"t"}) == []


def test_replaying_an_unknown_decision_is_an_error(store: AuditStore) -> None:
    with pytest.raises(NotFoundError):
        replay_decision(store, "0" * 32, lambda r: r)


def _upgraded(limit: float | None = None):
    """What today's engine makes of a record decided before decision logic 2: new binding and codes."""

    def replay(record: dict) -> dict:
        out = copy.deepcopy(record)
        out["decision_logic"] = "2"
        out["limit"]["binding_constraint"] = "cap"
        out["reason_codes"] = ["T02", "R01", "R07"]
        if limit is not None:
            out["limit"]["limit"] = limit
        return out

    return replay


def test_an_older_record_replays_with_the_upgrades_changes_explained(store: AuditStore) -> None:
    # given a record decided before the decision logic was versioned (binding chosen the old way)
    older = {**copy.deepcopy(RECORD), "limit": {**RECORD["limit"], "binding_constraint": "points_multiplier"}}
    row = store.append_decision(older, request_id="r", client_id="c")
    # when today's engine replays it and differs only where the upgrade changed the logic
    result = replay_decision(store, row.decision_id, _upgraded())
    # then it matches, and the differences are listed as explained by the upgrade
    assert result.matches and result.differences == ()
    assert {d.path.split("[")[0] for d in result.explained} == {
        "decision_logic", "limit.binding_constraint", "reason_codes"
    }  # fmt: skip
    # and any other difference still makes it a mismatch
    other = replay_decision(store, row.decision_id, _upgraded(limit=900000.0))
    assert not other.matches and [d.path for d in other.differences] == ["limit.limit"]


def test_a_record_of_todays_logic_is_held_to_every_field(store: AuditStore) -> None:
    current = {
        **copy.deepcopy(RECORD),
        "decision_logic": "2",
        "limit": {**RECORD["limit"], "binding_constraint": "headroom"},
    }
    row = store.append_decision(current, request_id="r", client_id="c")
    result = replay_decision(store, row.decision_id, _upgraded())
    assert not result.matches and result.explained == ()
    assert {d.path.split("[")[0] for d in result.differences} == {"limit.binding_constraint", "reason_codes"}
