"""Over a whole decided cohort: every offer's binding step is the last waterfall step that lowered its limit."""

from __future__ import annotations

from typing import Any

import numpy as np

from credit_points.datasets.schema import validate_applicants

STEPS = ("capacity", "points_multiplier", "risk_multiplier", "headroom", "cap")
COLUMNS = (
    "limit_capacity",
    "limit_after_points",
    "limit_after_risk",
    "limit_after_headroom",
    "limit_after_cap",
)


def _independent_binding(row: Any) -> str:
    values = [float(row[c]) for c in COLUMNS]
    lowered = [k for k in range(1, len(values)) if values[k] < values[k - 1]]
    return STEPS[lowered[-1]] if lowered else "capacity"


def test_every_offer_is_bound_by_the_last_step_that_lowered_it(trained_model: Any) -> None:
    # given the latest cohort of the trained zone, decided by the engine
    engine = trained_model.engine
    frame = trained_model.applicants
    latest = frame[frame["as_of_date"].dt.year == frame["as_of_date"].dt.year.max()]
    good, _ = validate_applicants(latest.drop(columns=["default_12m"]))
    decided = engine.decide(good, explain="none")
    offers = decided[(decided["limit"] > 0)]
    # then each offer's binding step is what an independent reading of its waterfall says
    expected = np.array([_independent_binding(row) for _, row in offers.iterrows()], dtype=object)
    got = offers["binding_constraint"].to_numpy(dtype=object)
    assert len(offers) > 100
    assert (got == expected).all(), offers.loc[got != expected, [*COLUMNS, "binding_constraint"]].head()
    # and the cohort holds cap-bound and capacity-bound offers at least (the rule is tested, not assumed)
    assert {"cap", "capacity"} <= set(got)


def _expected_trigger(record: dict[str, Any], engine: Any) -> str:
    """The code a refer or decline must lead with, read independently from the record's own fields."""
    policy = engine.policy
    prob_default = record["risk"]["prob_default"]
    if record["decision"] == "refer":
        product = policy.product(record["limit"]["product"])
        if prob_default > policy.product_refer_pd_above(product):
            return "T01"
        return "refer rule"
    binding = record["limit"]["binding_constraint"]
    if binding == "pd_cutoff":
        return "T02"
    return {"veto": "V", "eligibility": "P|T02"}.get(binding, "L")


def test_every_refer_and_decline_leads_with_its_trigger(trained_model: Any) -> None:
    # given the latest cohort decided to records, as the API and the audit store keep them
    from credit_points.records import decide_records, input_records

    engine = trained_model.engine
    frame = trained_model.applicants
    latest = frame[frame["as_of_date"].dt.year == frame["as_of_date"].dt.year.max()]
    good, _ = validate_applicants(latest.drop(columns=["default_12m"]))
    records = decide_records(engine, input_records(good, engine.fields.input_names))
    adverse = [r for r in records if r["decision"] in ("refer", "decline")]
    assert len(adverse) > 20
    refer_rules = {
        r.code for r in engine.reason_codes_config.rules if r.id in {x.id for x in engine.policy.refer_rules}
    }
    for record in adverse:
        first = record["reason_codes"][0]["code"]
        want = _expected_trigger(record, engine)
        if want == "refer rule":
            assert first in refer_rules, record["reason_codes"]
        else:
            assert first.startswith(tuple(want.split("|"))), (
                want,
                record["reason_codes"],
                record["limit"]["binding_constraint"],
            )
        assert record["trigger"]["code"] == first or record["trigger"]["kind"] in (
            "pd_refer_band",
            "pd_cutoff",
        )
        # a PD trigger is followed by the model's own reasons (after any refer rule also hit), never alone
        if first in ("T01", "T02"):
            following = [c["code"] for c in record["reason_codes"][1:]]
            before_model = following[: next(i for i, c in enumerate(following) if c.startswith("M"))]
            assert all(c in refer_rules for c in before_model), record["reason_codes"]
            assert record["trigger"]["value"] > record["trigger"]["threshold"]
    assert {"T01"} <= {r["reason_codes"][0]["code"] for r in adverse}
