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
