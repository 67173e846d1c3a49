"""Typed policy-input frames (applicant record + points + PD columns) built by hand for policy and explain tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Upper PD bound of grades 1..9 (grade D is default); a copy of the master scale for building test rows.
GRADE_BOUNDS = (0.0010, 0.0025, 0.0050, 0.0100, 0.0200, 0.0400, 0.0800, 0.1600, 1.0)
DEDUCTION_IDS = (
    "credit_abnormal",
    "ordinary_dishonesty",
    "admin_penalties",
    "abnormal_operation",
    "defendant_lawsuits",
    "tax_grade_m",
)

BASE_FIRM: dict[str, Any] = {
    # identity
    "firm_id": "91430100MA4L0000XX",
    "name": "Test Co",
    "zone": "changsha",
    "industry_code": "C39",
    "founded_date": pd.Timestamp("2018-01-01"),
    "as_of_date": pd.Timestamp("2024-06-30"),
    # financials, yuan
    "revenue": 10_000_000.0,
    "revenue_prev": 8_000_000.0,
    "net_profit": 1_000_000.0,
    "total_assets": 8_000_000.0,
    "total_liabilities": 2_000_000.0,
    "tax_paid": 500_000.0,
    "wages_paid": 3_000_000.0,
    "rd_expense": 600_000.0,
    "orders_backlog": 0.0,
    "gov_subsidies": 0.0,
    "equity_financing_3y": 0.0,
    "tech_contract_value": 0.0,
    # people
    "employees": 80.0,
    "employees_prev": 70.0,
    "rd_staff": 20.0,
    "degree_staff": 40.0,
    # innovation
    "invention_patents_valid": 5.0,
    "ip_filings_3y": 6.0,
    "pct_filings": 0.0,
    "standards_led": 0.0,
    "rd_platform_tier": 1.0,
    "gov_st_projects": 1.0,
    "national_st_awards": 0.0,
    "high_level_talent": 0.0,
    # qualifications
    "tech_qualification_tier": 3.0,
    "srdi": "none",
    "capital_market": False,
    # credit
    "existing_bank_debt": 0.0,
    "existing_unsecured_debt": 0.0,
    "max_overdue_days_24m": 0.0,
    "tax_credit_grade": "B",
    "admin_penalties_2y": 0.0,
    "defendant_lawsuits_1y": 0.0,
    "credit_status": "good",
    "registration_status": "active",
    "abnormal_operation_list": False,
    "pboc_special_mention_or_npl": False,
    # points
    "stage": "growth",
    "points_total": 104.0,
    "points_core": 100.0,
    "points_bonus": 4.0,
    "points_deductions": 0.0,
    "points_cat_tech": 50.0,
    "points_cat_growth": 35.0,
    "points_cat_aux": 15.0,
    "veto": False,
    "veto_reasons": "",
    **{f"deduction_{d}": 0.0 for d in DEDUCTION_IDS},
    "rank_zone": 900.0,
    "rank_stage": 100.0,
    # PD
    "prob_default": 0.012,
}


def grade_for(prob_default: Any) -> np.ndarray:
    """Master-scale grade labels "1".."9" for PDs (NaN -> missing)."""
    values = np.asarray(prob_default, dtype="float64")
    idx = np.searchsorted(np.asarray(GRADE_BOUNDS), values, side="left")
    labels = np.array([str(i + 1) for i in range(len(GRADE_BOUNDS))] + ["9"], dtype=object)
    out = labels[np.clip(idx, 0, len(GRADE_BOUNDS))]
    return np.where(np.isnan(values), None, out)


def make_frame(rows: list[dict[str, Any]] | None = None, index: Any = None, **common: Any) -> pd.DataFrame:
    """A typed policy-input frame: every row starts from BASE_FIRM; ``grade`` follows ``prob_default``."""
    rows = rows if rows is not None else [{}]
    records = [{**BASE_FIRM, **common, **row} for row in rows]
    frame = pd.DataFrame.from_records(records, index=index)
    for column in ("founded_date", "as_of_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    for column in ("capital_market", "abnormal_operation_list", "pboc_special_mention_or_npl", "veto"):
        frame[column] = frame[column].astype(bool)
    for column, value in BASE_FIRM.items():
        if isinstance(value, float):
            frame[column] = frame[column].astype("float64")
    if "grade" not in frame.columns:
        frame["grade"] = grade_for(frame["prob_default"])
    frame["grade"] = frame["grade"].astype("str")
    return frame
