"""`outcomes simulate`: only the loans the product approved (or an officer approved) are booked and perform."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_points.audit.store import AuditStore
from credit_points.datasets.generator import generate_panel
from credit_points.datasets.generator_config import LenderViewSpec
from credit_points.pipelines.outcomes import decisions_from_audit, simulate_outcomes

from ..integration.cli import run_cli

KEY = ["firm_id", "as_of_date"]


@pytest.fixture(scope="module")
def future() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The panel's last year as "the future": its applicants and the truth of every firm-year."""
    applicants, truth = generate_panel(600, years=(2021, 2024), seed=8)
    truth = truth.assign(default_12m=applicants["default_12m"].to_numpy())
    latest = applicants[applicants["as_of_date"].dt.year == 2024].reset_index(drop=True)
    return latest, truth


def _decided(latest: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    decision = rng.choice(["approve", "refer", "decline"], size=len(latest), p=[0.6, 0.1, 0.3])
    return pd.DataFrame(
        {
            "firm_id": latest["firm_id"],
            "as_of_date": latest["as_of_date"],
            "decision": decision,
            "decision_id": [f"{i:032x}" for i in range(len(latest))],
            "approved": decision == "approve",
        }
    )


def test_only_approved_decisions_book_and_their_outcomes_are_the_truth(future) -> None:
    latest, truth = future
    decisions = _decided(latest)
    # when every approval is taken up
    rows, summary = simulate_outcomes(decisions, truth, spec=LenderViewSpec(take_up=1.0))
    # then exactly the approved applications have loans, each starting `current` on the decision date
    approved = decisions.loc[decisions["approved"], KEY]
    loans = rows[KEY].drop_duplicates()
    assert len(loans) == len(approved) == summary.booked == summary.approved
    assert len(loans.merge(approved, on=KEY)) == len(approved)
    first = rows.groupby(KEY).head(1)
    assert (first["status"] == "current").all() and (first["observation_date"] == first["as_of_date"]).all()
    # and every window has closed by default, with the true outcome of that firm-year
    closed = rows.dropna(subset=["default_12m"]).merge(
        truth[[*KEY, "default_12m"]], on=KEY, suffixes=("", "_t")
    )
    assert len(closed) == len(approved)
    assert (closed["default_12m"].astype(int) == closed["default_12m_t"].astype(int)).all()
    # and the decision id travels with each row
    ids = dict(zip(decisions["firm_id"], decisions["decision_id"], strict=True))
    assert (rows["decision_id"] == rows["firm_id"].map(ids)).all()


def test_take_up_is_drawn_per_application_whatever_the_order(future) -> None:
    latest, truth = future
    decisions = _decided(latest, seed=1)
    rows, summary = simulate_outcomes(decisions, truth, seed=3)
    shuffled, _ = simulate_outcomes(decisions.sample(frac=1.0, random_state=2), truth, seed=3)
    pd.testing.assert_frame_equal(rows, shuffled)
    assert 0.75 < summary.booked / summary.approved < 0.95  # take-up 0.85 in configs/generator.yaml
    other, _ = simulate_outcomes(decisions, truth, seed=4)
    assert not rows[KEY].drop_duplicates().equals(other[KEY].drop_duplicates())


def test_the_latest_decision_counts_and_a_window_not_yet_closed_has_no_outcome(future) -> None:
    latest, truth = future
    decisions = _decided(latest)
    target = decisions.loc[decisions["approved"]].iloc[[0]]
    redecided = pd.concat([decisions, target.assign(decision="decline", approved=False)], ignore_index=True)
    rows, _ = simulate_outcomes(redecided, truth, spec=LenderViewSpec(take_up=1.0))
    assert target["firm_id"].iloc[0] not in set(rows["firm_id"])
    # observed on the last decision date of the year: booked, none matured
    early, _ = simulate_outcomes(decisions, truth, observed_until=latest["as_of_date"].max().date())
    assert len(early) and early["default_12m"].isna().all()


def test_from_the_audit_store_a_referral_books_only_when_an_officer_approved_it(
    future, tmp_path: Path
) -> None:
    latest, truth = future
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create_schema()
    rows = latest.head(4)
    kinds = ["approve", "refer", "refer", "decline"]
    ids = []
    for (_, row), kind in zip(rows.iterrows(), kinds, strict=True):
        record = {
            "firm_id": row["firm_id"],
            "as_of_date": row["as_of_date"].date().isoformat(),
            "decision": kind,
        }
        ids.append(store.append_decision(record, request_id="r", client_id="c").decision_id)
    store.append_override(ids[1], reason="strong orders", officer="li", scope="decision",
                          new_values={"decision": "approve", "limit": 300000})  # fmt: skip
    decisions = decisions_from_audit(store)
    assert decisions["approved"].tolist() == [True, True, False, False]
    truth_file = tmp_path / "truth.parquet"
    truth.to_parquet(truth_file)
    out = tmp_path / "performance.parquet"
    result = run_cli(
        [
            "outcomes",
            "simulate",
            "--truth",
            str(truth_file),
            "--audit",
            "--audit-url",
            store.url,
            "--out",
            str(out),
        ],
        {"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    booked = set(pd.read_parquet(out)["decision_id"])
    assert booked <= {ids[0], ids[1]} and ids[2] not in booked and ids[3] not in booked
    assert "2 approved" in result.stdout
    store.dispose()
