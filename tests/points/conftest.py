"""Shared fixtures for the points-engine tests: typed applicant frames, profiles and a pinned reference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from credit_points.datasets.generator import generate_panel
from credit_points.points.config import PointsConfig, load_points_config
from credit_points.points.reference import ReferenceTable
from credit_points.points.scorer import build_reference
from credit_points.points.testing import uscc_with_check_digit

HERE = Path(__file__).parent

# A typical growth-stage firm, every field typed as a validated applicant frame has it.
BASE_FIRM: dict[str, Any] = {
    "firm_id": uscc_with_check_digit("91430100MA4L00001"),
    "name": "长沙示例科技有限公司",
    "zone": "changsha",
    "industry_code": "I65",
    "founded_date": pd.Timestamp("2016-03-01"),
    "as_of_date": pd.Timestamp("2024-06-30"),
    "revenue": 10_000_000.0,
    "revenue_prev": 8_000_000.0,
    "net_profit": 800_000.0,
    "total_assets": 12_000_000.0,
    "total_liabilities": 6_000_000.0,
    "tax_paid": 500_000.0,
    "wages_paid": 4_000_000.0,
    "rd_expense": 600_000.0,
    "orders_backlog": 3_000_000.0,
    "gov_subsidies": 100_000.0,
    "equity_financing_3y": 0.0,
    "tech_contract_value": 0.0,
    "employees": 40.0,
    "employees_prev": 36.0,
    "rd_staff": 8.0,
    "degree_staff": 20.0,
    "invention_patents_valid": 2.0,
    "ip_filings_3y": 5.0,
    "pct_filings": 0.0,
    "standards_led": 0.0,
    "rd_platform_tier": 1.0,
    "gov_st_projects": 1.0,
    "national_st_awards": 0.0,
    "high_level_talent": 0.0,
    "tech_qualification_tier": 3.0,
    "srdi": "none",
    "capital_market": False,
    "existing_bank_debt": 2_000_000.0,
    "existing_unsecured_debt": 500_000.0,
    "max_overdue_days_24m": 0.0,
    "tax_credit_grade": "B",
    "admin_penalties_2y": 0.0,
    "defendant_lawsuits_1y": 0.0,
    "credit_status": "good",
    "registration_status": "active",
    "abnormal_operation_list": False,
    "pboc_special_mention_or_npl": False,
}
TEXT = (
    "firm_id",
    "name",
    "zone",
    "industry_code",
    "srdi",
    "tax_credit_grade",
    "credit_status",
    "registration_status",
)
FLAGS = ("capital_market", "abnormal_operation_list", "pboc_special_mention_or_npl")
DATES = ("founded_date", "as_of_date")


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a frame the dtypes of validated applicants (float64 numbers, bool flags, str text, ns dates)."""
    out = frame.copy()
    for name in out.columns:
        if name in TEXT:
            out[name] = out[name].astype("str")
        elif name in FLAGS:
            out[name] = out[name].astype(bool)
        elif name in DATES:
            out[name] = pd.to_datetime(out[name]).astype("datetime64[ns]")
        else:
            out[name] = out[name].astype("float64")
    return out


@pytest.fixture(scope="session")
def make_frame() -> Callable[..., pd.DataFrame]:
    """``make_frame([{overrides}, ...])``: typed firms built from :data:`BASE_FIRM` with overrides."""

    def build(rows: list[dict[str, Any]], index: Any = None) -> pd.DataFrame:
        records = []
        for k, overrides in enumerate(rows):
            record = dict(BASE_FIRM)
            record["firm_id"] = uscc_with_check_digit(f"91430100MA4L{k:05d}")
            record.update(overrides)
            records.append(record)
        return typed(pd.DataFrame(records, index=index))

    return build


@pytest.fixture(scope="session")
def torch18() -> PointsConfig:
    return load_points_config("torch-18")


@pytest.fixture(scope="session")
def panel() -> pd.DataFrame:
    """A small generated zone population (about 1,300 firm-years, every stage)."""
    applicants, _ = generate_panel(300, years=(2019, 2024), seed=7)
    return applicants


@pytest.fixture(scope="session")
def reference(panel: pd.DataFrame, torch18: PointsConfig) -> ReferenceTable:
    return build_reference(panel, torch18, label="test panel")


@pytest.fixture(scope="session")
def wuxi(panel: pd.DataFrame) -> tuple[PointsConfig, ReferenceTable]:
    """The wuxi-42 profile (reverse indicators, 1000 points) and its reference on the panel."""
    cfg = load_points_config("wuxi-42")
    return cfg, build_reference(panel, cfg)


@pytest.fixture(scope="session")
def rng() -> np.random.Generator:
    return np.random.default_rng(20240630)
