"""What a lender observes of the synthetic panel: its historical decisions, booked loans and late outcomes.

The panel knows every firm's default. A bank does not: it decided each application with its previous
model and policy, observes outcomes only for the loans it **booked**, and only once each loan's 12-month
window has closed. This module turns the panel into that view, vectorised and seeded (its own random
stream, so the panel's bytes do not change):

- ``historical_decisions``: every firm-year up to ``history_until`` (the panel's last ``held_out_years``
  years are "the future"), its inputs as known then (no outcome column), the previous model's PD (the true
  PD's log-odds plus noise), the decision of the historical policy (approve below a PD cut-off, so the
  book is selected on risk) and ``booked`` (approved and drawn, at the take-up rate);
- ``performance``: one row per booked loan and observation date — ``current`` at booking; for a loan that
  defaults, ``dpd30`` after 4 months and ``dpd90`` after 8; at 12 months ``current``, ``written_off`` or
  ``restructured`` — each row only when its date is on or before ``observed_until``; ``default_12m`` is
  set on the row that closes the 12-month window and absent (null) before it.

Nothing here depends on the date it runs: the same panel, config and seed give the same rows.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from credit_points.datasets.generator_config import LenderViewSpec

DECISIONS_FILE = "historical_decisions.parquet"
PERFORMANCE_FILE = "performance.parquet"
STATUSES: tuple[str, ...] = ("current", "dpd30", "dpd90", "written_off", "restructured")
#: months after booking at which a defaulting loan shows each stage of delinquency
_DPD30_MONTHS, _DPD90_MONTHS, _WINDOW_MONTHS = 4, 8, 12


def history_until(years: tuple[int, int], spec: LenderViewSpec) -> dt.date:
    """The last decision date of the historical book: the end of the last year not held out.

    Examples:
        >>> history_until((2019, 2024), LenderViewSpec())
        datetime.date(2022, 12, 31)
    """
    return dt.date(years[1] - spec.held_out_years, 12, 31)


def observed_until(years: tuple[int, int], spec: LenderViewSpec) -> dt.date:
    """The last date the bank has observed (default: the end of the panel's last year)."""
    return spec.observed_until or dt.date(years[1], 12, 31)


def historical_decisions(
    applicants: pd.DataFrame, truth: pd.DataFrame, years: tuple[int, int], spec: LenderViewSpec, seed: int
) -> pd.DataFrame:
    """The bank's historical book: inputs as known then, previous model PD, decision, ``booked``.

    Args:
        applicants: the panel's applicant rows (the outcome column is dropped here).
        truth: the panel's ``true_pd`` on the same rows, in the same order.
        years: the panel's first and last year.
        spec: the lender view's settings.
        seed: the panel's seed (the lender view draws from its own stream of it).
    """
    rng = np.random.default_rng([seed, 24])
    keep = (applicants["as_of_date"] <= pd.Timestamp(history_until(years, spec))).to_numpy()
    true_pd = np.clip(truth["true_pd"].to_numpy(dtype="float64"), 1e-9, 1 - 1e-9)
    noise = rng.normal(0.0, spec.previous_model_noise_sd, len(true_pd))
    draws = rng.random(len(true_pd))
    previous = 1.0 / (1.0 + np.exp(-(np.log(true_pd / (1.0 - true_pd)) + noise)))
    approved = previous < spec.pd_cutoff
    out = applicants.drop(columns=["default_12m"], errors="ignore").assign(
        previous_model_pd=previous,
        decision=np.where(approved, "approve", "decline"),
        booked=approved & (draws < spec.take_up),
    )
    return out.loc[keep].reset_index(drop=True)


def _months_later(dates: pd.Series, months: int) -> pd.Series:
    return dates + pd.DateOffset(months=months)


def performance(
    decisions: pd.DataFrame, outcomes: pd.DataFrame, years: tuple[int, int], spec: LenderViewSpec, seed: int
) -> pd.DataFrame:
    """Loan performance rows of the booked decisions, as observed up to ``observed_until``.

    Args:
        decisions: :func:`historical_decisions` (or any decisions with ``firm_id``, ``as_of_date``,
            ``booked``).
        outcomes: ``firm_id``, ``as_of_date``, ``default_12m`` — the true outcome of each application.
        years, spec, seed: as for :func:`historical_decisions`.

    Returns:
        ``firm_id``, ``as_of_date`` (the decision key), ``observation_date``, ``status`` and ``default_12m``
        (nullable ``Int8``: set on the row that closes the 12-month window, null before), sorted by key
        and observation date.
    """
    rng = np.random.default_rng([seed, 25])
    booked = decisions.loc[decisions["booked"].to_numpy(dtype=bool), ["firm_id", "as_of_date"]]
    booked = booked.merge(outcomes[["firm_id", "as_of_date", "default_12m"]], on=["firm_id", "as_of_date"])
    defaulted = booked["default_12m"].to_numpy(dtype="float64") == 1
    restructured = rng.random(len(booked)) < spec.restructured_share
    final = np.where(defaulted, np.where(restructured, "restructured", "written_off"), "current")
    start = booked["as_of_date"]
    parts = [
        (start, np.full(len(booked), "current", dtype=object), np.ones(len(booked), dtype=bool), None),
        (_months_later(start, _DPD30_MONTHS), np.full(len(booked), "dpd30", dtype=object), defaulted, None),
        (_months_later(start, _DPD90_MONTHS), np.full(len(booked), "dpd90", dtype=object), defaulted, None),
        (
            _months_later(start, _WINDOW_MONTHS),
            final.astype(object),
            np.ones(len(booked), dtype=bool),
            defaulted,
        ),
    ]
    seen_until = pd.Timestamp(observed_until(years, spec))
    frames = []
    for when, status, present, outcome in parts:
        rows = present & (when <= seen_until).to_numpy()
        frame = pd.DataFrame(
            {
                "firm_id": booked["firm_id"].to_numpy()[rows],
                "as_of_date": start.to_numpy()[rows],
                "observation_date": when.to_numpy()[rows],
                "status": status[rows],
                "default_12m": pd.array(
                    outcome[rows].astype("int8") if outcome is not None else [pd.NA] * int(rows.sum()),
                    dtype="Int8",
                ),
            }
        )
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["status"] = out["status"].astype("str")
    return out.sort_values(["firm_id", "as_of_date", "observation_date"], kind="stable").reset_index(
        drop=True
    )
