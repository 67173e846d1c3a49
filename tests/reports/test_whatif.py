"""What-if suggestions: each one, applied to the record and decided again, gives the outcome it promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_points.datasets.record import applicants_to_frame
from credit_points.exceptions import ConfigError, DataValidationError
from credit_points.explain.whatif import (
    Lever,
    WhatIfConfig,
    load_whatif_config,
    next_tier,
    weak_spots,
    what_if,
)
from credit_points.reports.loan import build_report


def _decide_all(engine, changed_inputs):
    """Decide many changed records in one batch (rows in order)."""
    return engine.decide(applicants_to_frame(changed_inputs, engine.fields), explain="none").reset_index(
        drop=True
    )


@pytest.fixture(scope="module")
def suggestions(decided):
    found = []
    for record in decided.records[:60]:
        for s in build_report(record, decided.engine, "en")["help"]["whatif"]:
            found.append((record, s))
    return found


def test_each_suggestion_really_produces_its_outcome(decided, suggestions):
    # given the what-if suggestions of many decisions
    assert suggestions, "no what-if suggestion in the sample: the search finds nothing"
    grades = decided.engine.pd_config.master_scale.labels
    # when each suggested change is applied to its record and decided again
    rows = _decide_all(decided.engine, [{**record["input"], **s["changes"]} for record, s in suggestions])
    for (record, s), (_, row) in zip(suggestions, rows.iterrows(), strict=True):
        # then the engine gives exactly the promised outcome
        assert float(row["points_total"]) == s["outcome"]["points_total"]
        assert float(row["limit"]) == s["outcome"]["limit"]
        assert str(row["grade"]) == s["outcome"]["grade"]
        assert str(row["decision"]) == s["outcome"]["decision"]
        # and the outcome reaches the goal it is listed under
        if s["goal"] == "points_tier":
            assert row["points_total"] >= s["target"] > record["points"]["total"]
        elif s["goal"] == "grade":
            assert grades.index(str(row["grade"])) < grades.index(record["risk"]["grade"])
        else:
            assert row["limit"] > record["limit"]["limit"]


def test_each_suggestion_is_the_smallest_step_of_its_lever(decided, suggestions):
    # given the suggestions and the smaller steps of the same lever (bounded as the search bounds them)
    levers = {lever.id: lever for lever in load_whatif_config().levers}
    grades = decided.engine.pd_config.master_scale.labels
    smaller = []
    for record, s in suggestions:
        lever = levers[s["lever"]]
        if lever.same_change:
            continue
        current = s["value_from"]
        for step in lever.steps:
            if abs(step) >= abs(s["step"]):
                continue
            new = current + step if lever.mode == "add" else current * (1 + step)
            if lever.at_most_field is not None:
                new = min(new, record["input"][lever.at_most_field])
            if lever.at_most is not None:
                new = min(new, lever.at_most)
            if not np.isclose(new, current):
                smaller.append((record, s, {**record["input"], lever.field: max(new, 0.0)}))
    assert smaller, "every suggestion is a lever's first step: nothing smaller to check"
    # when they are decided
    rows = _decide_all(decided.engine, [inp for _, _, inp in smaller])
    # then none reaches the goal
    for (record, s, _), (_, row) in zip(smaller, rows.iterrows(), strict=True):
        if s["goal"] == "points_tier":
            assert row["points_total"] < s["target"]
        elif s["goal"] == "grade":
            assert grades.index(str(row["grade"])) >= grades.index(record["risk"]["grade"])
        else:
            assert row["limit"] <= record["limit"]["limit"]


def test_the_search_calls_decide_once_and_checks_the_baseline(decided):
    # given one applicant row and a decide that counts its calls
    record = decided.records[0]
    frame = applicants_to_frame([record["input"]], decided.engine.fields)
    calls = []

    def decide(batch: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(batch))
        return decided.engine.decide(batch, explain="none")

    # when the search runs
    result = what_if(frame, decide, load_whatif_config(), tiers=[60, 80, 100, 110],
                     grades=decided.engine.pd_config.master_scale.labels)  # fmt: skip
    # then decide ran once on one batch, whose first row reproduces the record
    assert len(calls) == 1 and calls[0] == len(result.candidates) + 1
    assert result.baseline["prob_default"] == record["risk"]["prob_default"]
    assert result.baseline["limit"] == record["limit"]["limit"]


def test_a_decide_that_drops_rows_is_refused(decided):
    frame = applicants_to_frame([decided.records[0]["input"]], decided.engine.fields)
    with pytest.raises(DataValidationError, match="decide returned"):
        what_if(frame, lambda b: b.iloc[:1], load_whatif_config(), tiers=[60], grades=["1", "2"])


def test_lever_bounds_keep_the_record_valid(decided):
    # given a record and a lever that could push R&D staff above the headcount
    record = decided.records[0]
    frame = applicants_to_frame([record["input"]], decided.engine.fields)
    config = WhatIfConfig(version="t", levers=(Lever(id="rd_staff", field="rd_staff", mode="add", steps=(1, 1000),
                                                    at_most_field="employees"),))  # fmt: skip
    # when the search builds its batch
    result = what_if(
        frame, lambda b: decided.engine.decide(b, explain="none"), config, tiers=[], grades=["1"]
    )
    # then no candidate exceeds the bound
    assert (result.candidates["value_to"] <= record["input"]["employees"]).all()


def test_lever_steps_must_grow():
    with pytest.raises(ValueError, match="grow"):
        Lever(id="x", field="x", mode="add", steps=(2, 1))


def test_whatif_file_validates():
    from credit_points.config import CONFIG_DIR, validate_file, validate_mapping

    assert validate_file(CONFIG_DIR / "whatif.yaml") == []
    assert isinstance(load_whatif_config(), WhatIfConfig)
    with pytest.raises(ConfigError, match="typo"):
        validate_mapping({"kind": "whatif", "version": "1", "levers": [], "typo": 1}, WhatIfConfig)


def test_next_tier_and_weak_spots_by_hand():
    assert next_tier(59.9, [60, 80]) == 60.0
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "points": [1.0, 0.0, 2.0, 3.0], "max_points": [4.0, 2.0, 2.0, 9.0],
                          "actionable": [True, True, True, False], "pct": [0.1, 0.2, 0.9, 0.3]})  # fmt: skip
    spots = weak_spots(frame, k=2)
    assert spots["id"].tolist() == ["a", "b"]
    assert spots["shortfall"].tolist() == [3.0, 2.0]
