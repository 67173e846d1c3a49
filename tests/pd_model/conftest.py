"""Synthetic applicant + points frames with a known default mechanism, for the PD model tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_points.pd_model.config import PDModelConfig, load_pd_config
from credit_points.pd_model.features import build_features

STAGES = np.array(["seed", "sapling", "growth", "expansion", "mature"])


def make_panel(n_firms: int = 600, years: tuple[int, int] = (2019, 2023), seed: int = 0) -> pd.DataFrame:
    """Firm-year rows with every column the default features read, ``default_12m`` and ``true_pd``.

    PD rises with overdue days, leverage, penalties and bad conduct, and falls with points and margin.
    """
    rng = np.random.default_rng(seed)
    rows = []
    base_quality = rng.normal(size=n_firms)
    founded = pd.to_datetime("2005-01-01") + pd.to_timedelta(rng.integers(0, 4000, n_firms), unit="D")
    for year in range(years[0], years[1] + 1):
        n = n_firms
        q = base_quality + rng.normal(scale=0.5, size=n)
        revenue = np.exp(rng.normal(15 + 0.5 * q, 1.2))
        revenue_prev = revenue * np.exp(rng.normal(-0.1, 0.3, n))
        revenue_prev[rng.random(n) < 0.05] = np.nan
        assets = revenue * np.exp(rng.normal(0, 0.4, n))
        leverage = np.clip(rng.beta(2, 3, n) - 0.1 * q, 0.02, 1.5)
        employees = np.maximum(1, np.round(np.exp(rng.normal(3 + 0.3 * q, 0.8)))).astype(float)
        overdue = np.where(
            rng.random(n) < 0.25, np.round(rng.exponential(20 - 5 * np.clip(q, -2, 2), n).clip(0)), 0.0
        )
        overdue[rng.random(n) < 0.05] = np.nan
        penalties = rng.poisson(np.exp(-1.5 - 0.5 * q)).astype(float)
        lawsuits = rng.poisson(np.exp(-2 - 0.5 * q)).astype(float)
        points_total = np.clip(60 + 15 * q + rng.normal(0, 8, n), 0, 125)
        tax_grade = np.where(q > 0.5, "A", np.where(q > -0.5, "B", np.where(rng.random(n) < 0.5, "M", "C")))
        credit_status = np.where(rng.random(n) < 0.05 * (1 - np.tanh(q)), "abnormal", "good")
        margin = np.clip(rng.normal(0.05 + 0.04 * q, 0.08), -1, 0.5)
        bank_debt = revenue * rng.uniform(0, 0.6, n)
        stage_idx = np.clip(np.digitize(revenue, [5e5, 5e6, 2e7, 2e8]), 0, 4)
        logit = (
            -4.0
            - 0.9 * q
            + 0.02 * np.nan_to_num(overdue)
            + 1.2 * leverage
            + 0.3 * penalties
            - 0.02 * (points_total - 60)
            - 2.0 * margin
            + 0.8 * (credit_status == "abnormal")
        )
        true_pd = 1 / (1 + np.exp(-logit))
        rows.append(
            pd.DataFrame(
                {
                    "firm_id": [f"F{i:06d}" for i in range(n)],
                    "as_of_date": pd.Timestamp(f"{year}-06-30"),
                    "founded_date": founded,
                    "revenue": revenue,
                    "revenue_prev": revenue_prev,
                    "net_profit": margin * revenue,
                    "total_assets": assets,
                    "total_liabilities": leverage * assets,
                    "tax_paid": revenue * rng.uniform(0.01, 0.06, n),
                    "rd_expense": revenue * rng.uniform(0.0, 0.15, n),
                    "equity_financing_3y": np.where(
                        rng.random(n) < 0.7, np.nan, revenue * rng.uniform(0, 1, n)
                    ),
                    "employees": employees,
                    "employees_prev": np.maximum(1, employees + rng.integers(-3, 4, n)),
                    "rd_staff": np.floor(employees * rng.uniform(0, 0.5, n)),
                    "tech_qualification_tier": rng.integers(0, 5, n).astype(float),
                    "srdi": rng.choice(["none", "provincial", "national"], n, p=[0.8, 0.15, 0.05]),
                    "existing_bank_debt": bank_debt,
                    "existing_unsecured_debt": bank_debt * rng.uniform(0, 1, n),
                    "max_overdue_days_24m": overdue,
                    "tax_credit_grade": tax_grade,
                    "admin_penalties_2y": penalties,
                    "defendant_lawsuits_1y": lawsuits,
                    "credit_status": credit_status,
                    "abnormal_operation_list": rng.random(n) < 0.03,
                    "pboc_special_mention_or_npl": rng.random(n) < 0.02,
                    "stage": STAGES[stage_idx],
                    "points_total": points_total,
                    "points_cat_tech": points_total * 0.5,
                    "points_cat_growth": points_total * 0.35 + rng.normal(0, 2, n),
                    "points_cat_aux": points_total * 0.15 + rng.normal(0, 1, n),
                    "points_deductions": np.minimum(5.0 * penalties, 30.0),
                    "true_pd": true_pd,
                    "default_12m": (rng.random(n) < true_pd).astype("int64"),
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    for col in ("srdi", "tax_credit_grade", "credit_status", "stage", "firm_id"):
        frame[col] = frame[col].astype("str")
    return frame


@pytest.fixture(scope="session")
def pd_config() -> PDModelConfig:
    return load_pd_config("default")


@pytest.fixture(scope="session")
def fast_config(pd_config: PDModelConfig) -> PDModelConfig:
    """The default profile with a small booster (fast tests; same code paths)."""
    lgbm = pd_config.lightgbm.model_copy(update={"n_estimators": 60, "min_child_samples": 30})
    return pd_config.model_copy(update={"lightgbm": lgbm})


@pytest.fixture(scope="session")
def panel() -> pd.DataFrame:
    return make_panel()


@pytest.fixture(scope="module")
def data(panel: pd.DataFrame, fast_config: PDModelConfig) -> tuple:
    """The panel's features and outcomes: the first three quarters to fit, the rest to calibrate or test."""
    X = build_features(panel, fast_config)
    y = panel["default_12m"].to_numpy()
    half = len(X) * 3 // 4
    return X.iloc[:half], y[:half], X.iloc[half:], y[half:]
