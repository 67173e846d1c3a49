"""The override history of a stored decision: each step (override, approval, rejection) and the decision in
force after them, read from the chain (what ``GET /v1/decisions/{id}``, the reports and ``audit replay``
show)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from credit_points.audit.store import AuditRow
from credit_points.policy.overrides import decision_in_force


def step_records(steps: Sequence[AuditRow]) -> list[dict[str, Any]]:
    """Override and review rows as the records ``policy.overrides.decision_in_force`` folds, in chain order."""
    return [o.record | {"id": o.decision_id, "created_at": o.created_at} for o in steps]


def in_force_and_history(row: AuditRow, steps: Sequence[AuditRow]) -> dict[str, Any]:
    """The decision in force after every override in force, and each step (override, approval,
    rejection) with who, when and what: what ``GET /v1/decisions/{id}`` and the reports show."""
    records = step_records(steps)
    state = decision_in_force(row.record, records)
    reviews = {str(r["review_of"]): r for r in records if "review_of" in r}
    history = []
    for r in records:
        if "review_of" in r:
            history.append(
                {"id": r["id"], "kind": "review", "created_at": r["created_at"], "verdict": r.get("verdict"),
                 "review_of": r["review_of"], "actor": r.get("actor"), "comment": r.get("comment")}
            )  # fmt: skip
            continue
        status = r.get("status", "in_force")
        review = reviews.get(str(r["id"]))
        if status == "pending" and review is not None:
            status = "approved" if review.get("verdict") == "approved" else "rejected"
        history.append(
            {"id": r["id"], "kind": "override", "created_at": r["created_at"], "status": status,
             "actor": r.get("actor") or {"owner": r.get("officer")}, "officer_name": r.get("officer_name"),
             "reason_code": r.get("reason_code"), "reason_code_text": r.get("reason_code_text"),
             "reason": r.get("reason"), "before": r.get("before"),
             "after": r.get("after"), "new_values": r.get("new_values"), "four_eyes": r.get("four_eyes", []),
             "reviewed_by": (review or {}).get("actor"), "reviewed_at": (review or {}).get("created_at"),
             "review_comment": (review or {}).get("comment")}
        )  # fmt: skip
    return {"in_force": state, "history": history}
