"""The lender's view of the panel: historical decisions, booked loans, and outcomes only once matured."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from credit_points.datasets.generator import generate_panel
from credit_points.datasets.generator_config import LenderViewSpec
from credit_points.datasets.lender_view import historical_decisions, performance
from credit_points.pipelines.generate import write_panel

YEARS = (2019, 2024)


@pytest.fixture(scope="module")
def view() -> dict[str, pd.DataFrame]:
    applicants, truth = generate_panel(2000, years=YEARS, seed=4)
    truth = truth.assign(default_12m=applicants["default_12m"].to_numpy())
    decisions = historical_decisions(applicants, truth, YEARS, LenderViewSpec(), seed=4)
    loans = performance(decisions, truth, YEARS, LenderViewSpec(), seed=4)
    return {"applicants": applicants, "truth": truth, "decisions": decisions, "loans": loans}


def test_history_stops_before_the_held_out_years_and_carries_no_outcome(view) -> None:
    decisions = view["decisions"]
    assert decisions["as_of_date"].max() <= pd.Timestamp("2022-12-31")
    assert "default_12m" not in decisions.columns and "true_pd" not in decisions.columns
    assert set(decisions["decision"]) == {"approve", "decline"}
    assert not (decisions["booked"] & (decisions["decision"] != "approve")).any()


def test_outcomes_exist_only_for_booked_loans_and_start_at_booking(view) -> None:
    decisions, loans = view["decisions"], view["loans"]
    key = ["firm_id", "as_of_date"]
    booked = decisions.loc[decisions["booked"], key]
    loan_keys = loans[key].drop_duplicates()
    assert len(loan_keys.merge(booked, on=key)) == len(loan_keys) == len(booked)
    first = loans.groupby(key, sort=False).head(1)
    assert (first["status"] == "current").all() and (first["observation_date"] == first["as_of_date"]).all()


def test_no_outcome_before_its_window_closes_and_none_after_the_observation_date(view) -> None:
    loans = view["loans"]
    closes = loans["as_of_date"] + pd.DateOffset(months=12)
    assert loans.loc[loans["observation_date"] < closes, "default_12m"].isna().all()
    assert loans.loc[loans["observation_date"] == closes, "default_12m"].notna().all()
    assert loans["observation_date"].max() <= pd.Timestamp("2024-12-31")
    # and a bank that has seen less sees fewer matured loans
    early = performance(
        view["decisions"], view["truth"], YEARS, LenderViewSpec(observed_until=dt.date(2022, 6, 30)), 4
    )
    assert early["observation_date"].max() <= pd.Timestamp("2022-06-30")
    assert early["default_12m"].notna().sum() < loans["default_12m"].notna().sum()


def test_matured_outcomes_agree_with_the_truth_and_statuses_with_them(view) -> None:
    loans, truth = view["loans"], view["truth"]
    matured = loans.dropna(subset=["default_12m"]).merge(
        truth[["firm_id", "as_of_date", "default_12m"]], on=["firm_id", "as_of_date"], suffixes=("", "_true")
    )
    assert len(matured) > 0
    assert (matured["default_12m"].astype(int) == matured["default_12m_true"]).all()
    bad = matured["default_12m"] == 1
    assert matured.loc[bad, "status"].isin(["written_off", "restructured"]).all()
    assert (matured.loc[~bad, "status"] == "current").all()


def test_the_book_is_selected_on_risk(view) -> None:
    # booked loans default less than the applicants the bank saw: the historical policy selected on PD
    decisions, truth = view["decisions"], view["truth"]
    seen = decisions.merge(truth, on=["firm_id", "as_of_date"])
    assert seen.loc[seen["booked"], "default_12m"].mean() < 0.8 * seen["default_12m"].mean()
    # and a sharper previous model selects more strongly
    sharp = historical_decisions(
        view["applicants"], truth, YEARS, LenderViewSpec(previous_model_noise_sd=0.0), 4
    )
    sharp = sharp.merge(truth, on=["firm_id", "as_of_date"])
    assert sharp.loc[sharp["booked"], "default_12m"].mean() <= seen.loc[seen["booked"], "default_12m"].mean()


def test_the_same_seed_gives_the_same_bytes(tmp_path) -> None:
    first = write_panel(tmp_path / "a", 300, years=YEARS, seed=9)
    second = write_panel(tmp_path / "b", 300, years=YEARS, seed=9)
    for name in ("applicants", "truth", "historical_decisions", "performance"):
        assert first[name].read_bytes() == second[name].read_bytes(), name
