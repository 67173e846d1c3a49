"""``outcomes simulate``: the loans the product itself approved, booked and performing as the truth says.

The generator's ``performance`` file covers the bank's historical book. For decisions made from now on
(``score --audit`` on the panel's later years, or the API), this books what the product decided — an
approval at the generator's take-up rate, a referral only when an officer approved it by override, the
latest decision of an application only — and writes each booked loan's ``performance`` rows from the
generator's ``truth`` (``datasets.lender_view.performance``: the same statuses and dates as the
historical book). Booking is drawn per application from a hash of the seed and the application's key,
so the same decisions give the same loans in any order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from credit_points.audit.store import AuditStore
from credit_points.datasets.generator_config import LenderViewSpec, load_generator_config
from credit_points.datasets.lender_view import performance
from credit_points.exceptions import DataValidationError

KEY = ["firm_id", "as_of_date"]


@dataclass(frozen=True)
class SimulatedOutcomes:
    """What ``outcomes simulate`` did: decisions read, applications, loans booked, performance rows."""

    decisions: int
    applications: int
    approved: int
    booked: int
    rows: int
    observed_until: dt.date


def decisions_from_file(path: str | Path) -> pd.DataFrame:
    """The decisions of a ``score`` output (Parquet or CSV): key, decision and, when audited, ``decision_id``.

    A file carries no officer overrides: its referrals stay unbooked. The latest row of an application
    is its decision in force.
    """
    from credit_points.datasets.io import read_table

    frame = read_table(Path(path))
    missing = [c for c in [*KEY, "decision"] if c not in frame.columns]
    if missing:
        raise DataValidationError(f"is not a decisions file: columns {missing} missing", path=str(path))
    out = frame[[*KEY, "decision"]].copy()
    out["decision_id"] = frame["decision_id"] if "decision_id" in frame.columns else None
    out["approved"] = out["decision"] == "approve"
    return out


def decisions_from_audit(store: AuditStore) -> pd.DataFrame:
    """Every audited decision with the decision in force after its overrides (chain order).

    A decision counts as approved when its last override says ``decision: approve`` (an officer approving a
    referral), or when it was approved and no override changed it to something else.
    """
    decided: dict[str, dict[str, object]] = {}
    for row in store.iter_rows():
        if row.kind == "decision":
            record = row.record
            decided[row.decision_id] = {
                "firm_id": record.get("firm_id"),
                "as_of_date": record.get("as_of_date"),
                "decision": row.decision,
                "decision_id": row.decision_id,
                "seq": row.seq,
            }
        elif row.kind == "override" and row.parent_id in decided:
            new_values = json.loads(row.record_json).get("new_values") or {}
            if "decision" in new_values:
                decided[row.parent_id]["decision"] = new_values["decision"]
    frame = pd.DataFrame(list(decided.values()), columns=[*KEY, "decision", "decision_id", "seq"])
    frame = frame.sort_values("seq", kind="stable").drop(columns="seq")
    frame["approved"] = frame["decision"] == "approve"
    return frame


def _uniform(seed: int, firms: list[str], dates: list[str]) -> np.ndarray:
    """One draw in [0, 1) per application, from its key and the seed alone (order does not matter)."""
    return np.array(
        [
            int.from_bytes(hashlib.sha256(f"{seed}\x1f{f}\x1f{d}".encode()).digest()[:7], "big") / 2.0**56
            for f, d in zip(firms, dates, strict=True)
        ]
    )


def simulate_outcomes(
    decisions: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    seed: int = 7,
    spec: LenderViewSpec | None = None,
    observed_until: dt.date | None = None,
) -> tuple[pd.DataFrame, SimulatedOutcomes]:
    """Book the approved decisions and write their performance rows from the truth.

    Args:
        decisions: ``firm_id``, ``as_of_date``, ``approved`` and ``decision_id`` (may be null), in decision
            order: the last row of an application is its decision in force.
        truth: the generator's ``truth`` (``firm_id``, ``as_of_date``, ``default_12m``).
        seed: the booking draw's seed.
        spec: take-up and restructured share (default: ``configs/generator.yaml``'s ``lender``).
        observed_until: the last date observed; default: every booked loan's 12-month window closed.

    Raises:
        DataValidationError: the truth has no outcome, or an application is not in the truth.
    """
    spec = spec or load_generator_config().lender
    if "default_12m" not in truth.columns:
        raise DataValidationError(
            "has no default_12m column: write it with a current `generate`", field="truth"
        )
    frame = decisions.copy()
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"])
    latest = frame.drop_duplicates(KEY, keep="last").sort_values(KEY, kind="stable").reset_index(drop=True)
    truth = truth.assign(as_of_date=pd.to_datetime(truth["as_of_date"]))
    known = latest.merge(truth[KEY], on=KEY, how="left", indicator=True)["_merge"] == "both"
    if not known.all():
        first = latest.loc[~known.to_numpy()].iloc[0]
        raise DataValidationError(
            f"{int((~known).sum())} application(s) are not in the truth",
            field="firm_id",
            value=first["firm_id"],
        )
    draws = _uniform(
        seed, latest["firm_id"].astype(str).tolist(), latest["as_of_date"].dt.strftime("%Y-%m-%d").tolist()
    )
    latest["booked"] = latest["approved"].to_numpy(dtype=bool) & (draws < spec.take_up)
    if observed_until is None:
        last = latest["as_of_date"].max() if len(latest) else pd.Timestamp("1970-01-01")
        observed_until = (last + pd.DateOffset(months=12)).date()
    view = spec.model_copy(update={"observed_until": observed_until})
    years = (int(latest["as_of_date"].dt.year.min() if len(latest) else 1970), observed_until.year)
    rows = performance(latest, truth, years, view, seed)
    rows = rows.merge(latest[[*KEY, "decision_id"]], on=KEY, how="left")
    summary = SimulatedOutcomes(
        decisions=len(frame),
        applications=len(latest),
        approved=int(latest["approved"].sum()),
        booked=int(latest["booked"].sum()),
        rows=len(rows),
        observed_until=observed_until,
    )
    return rows, summary
