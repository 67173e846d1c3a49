"""Override rules on their own: the checks, the four-eyes sizes and the decision in force."""

from __future__ import annotations

import pytest

from credit_points.exceptions import DataValidationError
from credit_points.policy.overrides import (
    ProductLimits,
    check_override,
    decision_in_force,
    load_override_policy,
)

POLICY = load_override_policy()
LIMITS = ProductLimits("jifen_dai", 10_000_000.0, 10_000.0)
APPROVED = {"decision": "approve", "limit": 3_000_000.0}


def test_the_shipped_policy_loads_with_its_codes_and_sizes() -> None:
    assert POLICY.four_eyes.limit_increase_above == 1_000_000 and POLICY.four_eyes.limit_above == 5_000_000
    assert {r.code for r in POLICY.reason_codes} >= {"O01", "O04", "O08"}


@pytest.mark.parametrize(
    ("before", "new_values", "code", "four_eyes"),
    [
        (APPROVED, {"limit": 4_000_000}, "O01", []),  # +1,000,000: at the size, not above it
        (APPROVED, {"limit": 4_010_000}, "O01", ["limit_increase_above:1000000"]),
        ({"decision": "approve", "limit": 4_900_000.0}, {"limit": 5_010_000}, "O01", ["limit_above:5000000"]),
        (
            {"decision": "decline", "limit": 0.0},
            {"decision": "approve", "limit": 500_000},
            "O02",
            ["decline_to_approve"],
        ),
        (APPROVED, {"decision": "decline"}, "O05", []),  # lowering never needs a second officer
    ],
)
def test_four_eyes_sizes(before, new_values, code, four_eyes) -> None:
    assert check_override(new_values, code, before, LIMITS, POLICY).four_eyes == four_eyes


def test_a_decline_carries_limit_zero_and_the_code_must_point_the_way_of_the_change() -> None:
    checked = check_override({"decision": "decline"}, "O05", APPROVED, LIMITS, POLICY)
    assert checked.new_values == {"decision": "decline", "limit": 0.0} and checked.direction == "down"
    with pytest.raises(DataValidationError, match="O01 justifies a change up"):
        check_override({"decision": "decline"}, "O01", APPROVED, LIMITS, POLICY)
    # "any" codes go either way
    assert check_override({"limit": 2_000_000}, "O07", APPROVED, LIMITS, POLICY).direction == "down"


def test_no_product_means_nothing_can_be_lent() -> None:
    none = ProductLimits(None, 0.0, 0.0)
    with pytest.raises(DataValidationError) as exc:
        check_override(
            {"decision": "approve", "limit": 100_000},
            "O02",
            {"decision": "decline", "limit": 0.0},
            none,
            POLICY,
        )
    assert exc.value.field == "new_values.limit"


def test_the_decision_in_force_folds_overrides_in_the_order_they_came_into_force() -> None:
    record = {"decision": "refer", "limit": {"limit": 2_000_000.0, "product": "jifen_dai"}}
    steps = [
        {"id": "a", "new_values": {"decision": "approve"}},  # written before four eyes: no status, in force
        {"id": "b", "status": "pending", "new_values": {"limit": 4_000_000.0}},
        {"id": "c", "status": "pending", "new_values": {"limit": 9_000_000.0}},
        {"id": "d", "status": "in_force", "new_values": {"limit": 1_500_000.0}},
        {"id": "r1", "review_of": "c", "verdict": "rejected"},
        {"id": "r2", "review_of": "b", "verdict": "approved"},  # b comes into force now, after d
    ]
    assert decision_in_force(record, steps[:4]) == {
        "decision": "approve",
        "limit": 1_500_000.0,
        "product": "jifen_dai",
        "by": "d",
    }
    assert decision_in_force(record, steps) == {
        "decision": "approve",
        "limit": 4_000_000.0,
        "product": "jifen_dai",
        "by": "b",
    }
