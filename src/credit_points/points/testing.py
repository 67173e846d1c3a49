"""Small, deterministic, typed applicant frames for examples and doctests of the points engine.

Not a data generator (that is ``credit_points.datasets.generator``): the values are plausible and cover
every stage, nothing more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])


def uscc_with_check_digit(body: str) -> str:
    """Complete a 17-character 统一社会信用代码 body with its check character (GB 32100-2015).

    Examples:
        >>> uscc_with_check_digit("91350100M000100Y4")
        '91350100M000100Y43'
    """
    codes = np.array([_USCC_CHARS.index(ch) for ch in body])
    check = (31 - int((codes * _USCC_WEIGHTS).sum()) % 31) % 31
    return body + _USCC_CHARS[check]


def example_frame(n: int = 50, seed: int = 0) -> pd.DataFrame:
    """A typed applicant frame of ``n`` firms spread over all five default stages.

    Examples:
        >>> frame = example_frame(5)
        >>> frame.shape[0], frame["revenue"].dtype, frame["capital_market"].dtype
        (5, dtype('float64'), dtype('bool'))
    """
    rng = np.random.default_rng(seed)
    stage_rev = np.array([2e5, 2e6, 1e7, 6e7, 4e8])
    revenue = stage_rev[np.arange(n) % 5] * rng.uniform(0.3, 1.6, n)
    revenue = np.minimum(revenue, np.array([4.9e5, 4.9e6, 1.99e7, 1.99e8, 5e9])[np.arange(n) % 5])
    employees = np.maximum(3, np.round(revenue / 4e5 * rng.uniform(0.5, 2, n) + 3))
    rd_staff = np.floor(employees * rng.uniform(0.05, 0.5, n))
    assets = revenue * rng.uniform(0.6, 2.0, n)
    bodies = [f"91320100{i:09d}" for i in range(n)]
    frame = pd.DataFrame(
        {
            "firm_id": [uscc_with_check_digit(b) for b in bodies],
            "name": [f"示例科技有限公司{i:04d}" for i in range(n)],
            "zone": np.where(np.arange(n) % 3 == 0, "changsha", "wuxi"),
            "industry_code": "I65",
            "founded_date": (
                pd.to_datetime("2015-01-01") + pd.to_timedelta(rng.integers(0, 2500, n), unit="D")
            ).astype("datetime64[ns]"),
            "as_of_date": pd.Series(pd.Timestamp("2024-06-30"), index=range(n)).astype("datetime64[ns]"),
            "revenue": revenue,
            "revenue_prev": revenue / rng.uniform(0.7, 1.6, n),
            "net_profit": revenue * rng.uniform(-0.2, 0.25, n),
            "total_assets": assets,
            "total_liabilities": assets * rng.uniform(0.1, 0.9, n),
            "tax_paid": revenue * rng.uniform(0.0, 0.08, n),
            "wages_paid": employees * rng.uniform(6e4, 2e5, n),
            "rd_expense": revenue * rng.uniform(0.0, 0.2, n),
            "orders_backlog": revenue * rng.uniform(0.0, 0.8, n),
            "gov_subsidies": revenue * rng.uniform(0.0, 0.05, n),
            "equity_financing_3y": np.where(rng.uniform(size=n) < 0.3, revenue * rng.uniform(0.1, 2, n), 0.0),
            "tech_contract_value": np.where(
                rng.uniform(size=n) < 0.4, revenue * rng.uniform(0.0, 0.5, n), 0.0
            ),
            "employees": employees,
            "employees_prev": np.round(employees / rng.uniform(0.8, 1.4, n)),
            "rd_staff": rd_staff,
            "degree_staff": np.floor(employees * rng.uniform(0.2, 0.9, n)),
            "invention_patents_valid": rng.poisson(3, n).astype("float64"),
            "ip_filings_3y": rng.poisson(6, n).astype("float64"),
            "pct_filings": rng.poisson(0.3, n).astype("float64"),
            "standards_led": rng.poisson(0.2, n).astype("float64"),
            "rd_platform_tier": rng.integers(0, 4, n).astype("float64"),
            "gov_st_projects": rng.poisson(1, n).astype("float64"),
            "national_st_awards": (rng.uniform(size=n) < 0.03).astype("float64"),
            "high_level_talent": rng.poisson(0.5, n).astype("float64"),
            "tech_qualification_tier": rng.integers(0, 5, n).astype("float64"),
            "srdi": rng.choice(["none", "provincial", "national"], n, p=[0.8, 0.15, 0.05]),
            "capital_market": rng.uniform(size=n) < 0.05,
            "existing_bank_debt": revenue * rng.uniform(0.0, 0.5, n),
            "existing_unsecured_debt": 0.0,
            "max_overdue_days_24m": rng.choice([0.0, 0.0, 0.0, 5.0, 40.0], n),
            "tax_credit_grade": rng.choice(["A", "B", "M", "C", "D"], n, p=[0.4, 0.4, 0.1, 0.07, 0.03]),
            "admin_penalties_2y": rng.poisson(0.2, n).astype("float64"),
            "defendant_lawsuits_1y": rng.poisson(0.2, n).astype("float64"),
            "credit_status": rng.choice(
                ["good", "abnormal", "ordinary_dishonest", "serious_dishonest"], n, p=[0.9, 0.05, 0.03, 0.02]
            ),
            "registration_status": rng.choice(["active", "operating", "revoked"], n, p=[0.6, 0.38, 0.02]),
            "abnormal_operation_list": rng.uniform(size=n) < 0.03,
            "pboc_special_mention_or_npl": rng.uniform(size=n) < 0.02,
        }
    )
    frame["existing_unsecured_debt"] = frame["existing_bank_debt"] * 0.4
    for name in ("firm_id", "name", "zone", "industry_code", "srdi", "tax_credit_grade", "credit_status",
                 "registration_status"):  # fmt: skip
        frame[name] = frame[name].astype("str")
    return frame
