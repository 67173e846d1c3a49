"""Golden fixture: twelve firms across all stages with points pinned per indicator.

The expected numbers are computed here by a separate, plain-Python reading of the scoring rule (DOMAIN.md
§3: stage by revenue, mid-rank percentile against a small fixed quantile table, ``min(1, pct / 0.9)``,
lower-is-better as ``1 - pct``, tiers as ``tier / max``, fallback bands for a stage with too few firms,
category totals per stage with the seed weight moves, capped bonus and deductions) — never by calling the
engine — and pinned in ``golden/firms.yaml``. Regenerate the file with
``.venv/bin/python tests/points/test_golden.py`` only when the rule itself changes.
"""

from __future__ import annotations

import bisect
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from credit_points.points.config import PointsConfig, load_points_config
from credit_points.points.reference import ReferenceTable
from credit_points.points.scorer import score_points

HERE = Path(__file__).parent
FIXTURE = HERE / "golden" / "firms.yaml"
OVERLAY = HERE / "golden" / "five-knots.yaml"
PROBS = [0.0, 0.25, 0.5, 0.75, 1.0]
STAGES = ["seed", "sapling", "growth", "expansion", "mature"]
CUTS = [0.0, 500_000.0, 5_000_000.0, 20_000_000.0, 200_000_000.0]
MONEY_SCALE = {"seed": 0.02, "sapling": 0.2, "growth": 1.0, "expansion": 5.0, "mature": 30.0}
N_FIRMS = {
    "seed": 40,
    "sapling": 40,
    "growth": 40,
    "expansion": 40,
    "mature": 10,
}  # mature < 30: fallback bands
MONEY = {"rd_expense", "tech_contract_value", "tax_paid", "equity_financing_3y"}
KNOTS: dict[str, list[float]] = {
    "rd_expense": [0, 200_000, 500_000, 1_000_000, 3_000_000],
    "rd_intensity": [0, 0.02, 0.05, 0.08, 0.2],
    "rd_staff_count": [0, 2, 5, 10, 40],
    "rd_staff_ratio": [0, 0.1, 0.2, 0.3, 0.6],
    "invention_patents_valid": [0, 0, 1, 3, 10],
    "ip_filings_3y": [0, 1, 3, 6, 20],
    "tech_contract_value": [0, 0, 0, 500_000, 5_000_000],
    "degree_staff_ratio": [0.1, 0.3, 0.5, 0.7, 1.0],
    "rd_platform_tier": [0, 0, 1, 1, 3],
    "revenue_growth": [-0.5, 0, 0.1, 0.25, 1.0],
    "net_profit_margin": [-0.3, 0, 0.05, 0.1, 0.3],
    "tax_paid": [0, 50_000, 200_000, 500_000, 2_000_000],
    "employee_growth": [-0.3, 0, 0.05, 0.15, 0.5],
    "debt_to_assets": [0.05, 0.3, 0.5, 0.7, 1.2],
    "equity_financing_3y": [0, 0, 0, 0, 10_000_000],
    "tech_qualification_tier": [0, 1, 2, 3, 4],
    "gov_st_projects": [0, 0, 1, 2, 6],
}
REVENUE_KNOTS = {
    "seed": [0, 100_000, 250_000, 400_000, 499_000],
    "sapling": [500_000, 1_000_000, 2_000_000, 3_500_000, 4_900_000],
    "growth": [5_000_000, 7_000_000, 10_000_000, 14_000_000, 19_000_000],
    "expansion": [20_000_000, 40_000_000, 70_000_000, 120_000_000, 190_000_000],
    "mature": [200_000_000, 300_000_000, 500_000_000, 800_000_000, 2_000_000_000],
}


def knots(stage: str, indicator: str) -> list[float]:
    if indicator == "revenue":
        return [float(v) for v in REVENUE_KNOTS[stage]]
    scale = MONEY_SCALE[stage] if indicator in MONEY else 1.0
    return [float(v) * scale for v in KNOTS[indicator]]


def fixed_reference(cfg: PointsConfig) -> ReferenceTable:
    """The small, hand-written reference population (quantile table) every golden firm is scored against."""
    stages = {
        s: {"n_firms": N_FIRMS[s],
            "indicators": {i: {"n": N_FIRMS[s], "quantiles": knots(s, i)} for i in [*KNOTS, "revenue"]}}
        for s in STAGES
    }  # fmt: skip
    return ReferenceTable.from_dict(
        {
            "format": "credit-points/points-reference/1",
            "profile": cfg.profile,
            "reference_key": cfg.reference_key,
            "label": "golden",
            "probs": PROBS,
            "min_firms": 30,
            "stages": stages,
            "fallback": {},
        }  # fmt: skip
    )


# ------------------------------------------------------------------ the rule, read independently
GROWTH_WEIGHTS = {  # DOMAIN.md §3, growth stage
    "rd_expense": ("tech", 8), "rd_intensity": ("tech", 10), "rd_staff_count": ("tech", 4),
    "rd_staff_ratio": ("tech", 5), "invention_patents_valid": ("tech", 8), "ip_filings_3y": ("tech", 4),
    "tech_contract_value": ("tech", 4), "degree_staff_ratio": ("tech", 3), "rd_platform_tier": ("tech", 4),
    "revenue": ("growth", 6), "revenue_growth": ("growth", 9), "net_profit_margin": ("growth", 4),
    "tax_paid": ("growth", 6), "employee_growth": ("growth", 4), "debt_to_assets": ("growth", 6),
    "equity_financing_3y": ("aux", 5), "tech_qualification_tier": ("aux", 6), "gov_st_projects": ("aux", 4),
}  # fmt: skip
TOTALS = {"seed": (60, 25, 15), "sapling": (55, 30, 15), "growth": (50, 35, 15), "expansion": (45, 40, 15),
          "mature": (40, 45, 15)}  # fmt: skip
TIERS = {"rd_platform_tier": 3, "tech_qualification_tier": 4}
# fallback bands of torch-18 for the mature stage (the only stage with fewer than 30 reference firms here)
MATURE_BANDS = {
    "rd_expense": ([10e6, 25e6, 50e6, 100e6], [0, 0.3, 0.55, 0.8, 1]),
    "rd_intensity": ([0.01, 0.03, 0.05, 0.08, 0.12], [0, 0.2, 0.4, 0.6, 0.8, 1]),
    "rd_staff_count": ([1, 3, 10, 30], [0, 0.25, 0.5, 0.75, 1]),
    "rd_staff_ratio": ([0.05, 0.10, 0.20, 0.30], [0, 0.25, 0.5, 0.75, 1]),
    "invention_patents_valid": ([1, 2, 5, 10], [0, 0.25, 0.5, 0.75, 1]),
    "ip_filings_3y": ([1, 3, 8, 15], [0, 0.25, 0.5, 0.75, 1]),
    "tech_contract_value": ([1, 500_000, 2_000_000, 10_000_000], [0, 0.4, 0.6, 0.8, 1]),
    "degree_staff_ratio": ([0.2, 0.4, 0.6, 0.8], [0, 0.25, 0.5, 0.75, 1]),
    "revenue": ([250e6, 400e6, 700e6, 1200e6], [0.1, 0.3, 0.55, 0.8, 1]),
    "revenue_growth": ([0, 0.1, 0.2, 0.3, 0.5], [0, 0.2, 0.4, 0.6, 0.8, 1]),
    "net_profit_margin": ([0, 0.03, 0.08, 0.15], [0, 0.25, 0.5, 0.75, 1]),
    "tax_paid": ([10e6, 20e6, 40e6, 80e6], [0, 0.3, 0.55, 0.8, 1]),
    "employee_growth": ([0, 0.05, 0.10, 0.20], [0, 0.25, 0.5, 0.75, 1]),
    "debt_to_assets": ([0.3, 0.5, 0.65, 0.8], [1, 0.75, 0.5, 0.25, 0]),
    "equity_financing_3y": ([1, 500_000, 2_000_000, 10_000_000], [0, 0.4, 0.6, 0.8, 1]),
    "gov_st_projects": ([1, 2, 3, 5], [0, 0.25, 0.5, 0.75, 1]),
}


def stage_of(revenue: float) -> str:
    return STAGES[bisect.bisect_right(CUTS, revenue) - 1]


def weights(stage: str) -> dict[str, float]:
    base = {k: float(w) for k, (_, w) in GROWTH_WEIGHTS.items()}
    if stage == "seed":
        base["rd_intensity"] += base.pop("revenue")
        base["equity_financing_3y"] += base.pop("net_profit_margin")
        base["revenue"] = base["net_profit_margin"] = 0.0
    out = {}
    for c, cat in enumerate(("tech", "growth", "aux")):
        members = [k for k, (kc, _) in GROWTH_WEIGHTS.items() if kc == cat]
        subtotal = sum(base[k] for k in members)
        for k in members:
            out[k] = base[k] * TOTALS[stage][c] / subtotal
    return out


def midrank(x: float, q: list[float]) -> float:
    """F(x-) and F(x) of the piecewise-linear distribution through (q_i, p_i), averaged."""
    if x < q[0]:
        return 0.0
    if x > q[-1]:
        return 1.0
    equal = [PROBS[i] for i, v in enumerate(q) if v == x]
    if equal:
        return (equal[0] + equal[-1]) / 2
    i = max(i for i, v in enumerate(q) if v < x)
    return PROBS[i] + (x - q[i]) / (q[i + 1] - q[i]) * (PROBS[i + 1] - PROBS[i])


def raw_values(firm: dict[str, Any]) -> dict[str, float]:
    rev, rd = firm["revenue"], firm["rd_expense"]
    emp = firm["employees"]
    clip = lambda v, lo, hi: min(max(v, lo), hi)  # noqa: E731
    prev = firm["revenue_prev"]
    emp_prev = firm["employees_prev"]
    degree = firm["degree_staff"]
    return {
        "rd_expense": rd,
        "rd_intensity": rd / rev if rev > 0 else (1.0 if rd > 0 else 0.0),
        "rd_staff_count": firm["rd_staff"],
        "rd_staff_ratio": firm["rd_staff"] / emp if emp else 0.0,
        "invention_patents_valid": firm["invention_patents_valid"],
        "ip_filings_3y": firm["ip_filings_3y"],
        "tech_contract_value": firm["tech_contract_value"],
        "degree_staff_ratio": math.nan
        if degree is None or math.isnan(degree)
        else (degree / emp if emp else 0.0),
        "rd_platform_tier": firm["rd_platform_tier"],
        "revenue": rev,
        "revenue_growth": clip((rev - prev) / prev, -1, 10) if prev and not math.isnan(prev) else 0.0,
        "net_profit_margin": clip(firm["net_profit"] / rev, -1, 1) if rev else 0.0,
        "tax_paid": firm["tax_paid"],
        "employee_growth": clip((emp - emp_prev) / emp_prev, -1, 10)
        if emp_prev and not math.isnan(emp_prev)
        else 0.0,
        "debt_to_assets": clip(firm["total_liabilities"] / firm["total_assets"], 0, 5)
        if firm["total_assets"]
        else 1.0,
        "equity_financing_3y": firm["equity_financing_3y"],
        "tech_qualification_tier": firm["tech_qualification_tier"],
        "gov_st_projects": firm["gov_st_projects"],
    }


def hand_points(firm: dict[str, Any]) -> dict[str, Any]:
    stage = stage_of(firm["revenue"])
    w = weights(stage)
    points = {}
    for ind, value in raw_values(firm).items():
        if math.isnan(value):
            score = 0.0
        elif ind in TIERS:
            score = min(1.0, max(0.0, value / TIERS[ind]))
        elif stage == "mature":
            edges, scores = MATURE_BANDS[ind]
            score = scores[bisect.bisect_right(edges, value)]
        else:
            pct = midrank(value, knots(stage, ind))
            score = min(1.0, (1 - pct if ind == "debt_to_assets" else pct) / 0.9)
        points[ind] = w[ind] * score
    bonus = min(25.0, (8 if firm["national_st_awards"] > 0 else 0)
                + (6 if firm["tech_qualification_tier"] >= 4 or firm["srdi"] == "national" else 0)
                + min(6, 2 * firm["standards_led"]) + min(4, firm["pct_filings"])
                + min(6, 2 * firm["high_level_talent"]) + (3 if firm["tax_credit_grade"] == "A" else 0)
                + (5 if firm["capital_market"] else 0))  # fmt: skip
    deductions = min(30.0, (5 if firm["credit_status"] == "abnormal" else 0)
                     + (10 if firm["credit_status"] == "ordinary_dishonest" else 0)
                     + min(15, 5 * firm["admin_penalties_2y"]) + (10 if firm["abnormal_operation_list"] else 0)
                     + min(9, 3 * firm["defendant_lawsuits_1y"]) + (3 if firm["tax_credit_grade"] == "M" else 0))  # fmt: skip
    core = sum(points.values())
    vetoes = [v for v, hit in (
        ("serious_dishonesty", firm["credit_status"] == "serious_dishonest"),
        ("licence_revoked", firm["registration_status"] in ("revoked", "deregistered", "suspended", "liquidation")),
        ("pboc_npl", firm["pboc_special_mention_or_npl"]),
        ("tax_grade_d", firm["tax_credit_grade"] == "D"),
    ) if hit]  # fmt: skip
    return {"stage": stage, "points": points, "core": core, "bonus": bonus, "deductions": deductions,
            "total": max(0.0, core + bonus - deductions), "veto_reasons": ";".join(vetoes)}  # fmt: skip


# ------------------------------------------------------------------ the firms
FIRMS: list[tuple[str, dict[str, Any]]] = [
    ("seed_no_revenue", {"revenue": 0.0, "revenue_prev": 0.0, "rd_expense": 80_000.0, "net_profit": -200_000.0,
                         "employees": 6.0, "employees_prev": 4.0, "rd_staff": 4.0, "degree_staff": 6.0,
                         "tax_paid": 0.0, "invention_patents_valid": 0.0, "ip_filings_3y": 2.0,
                         "equity_financing_3y": 300_000.0, "tech_qualification_tier": 1.0}),
    ("seed_small", {"revenue": 300_000.0, "revenue_prev": 200_000.0, "rd_expense": 60_000.0, "net_profit": 10_000.0,
                    "employees": 8.0, "employees_prev": 8.0, "rd_staff": 3.0, "degree_staff": 5.0,
                    "tax_paid": 2_000.0, "tech_contract_value": 5_000.0, "tech_qualification_tier": 1.0}),
    ("seed_at_cut", {"revenue": 499_999.99, "revenue_prev": 600_000.0, "rd_expense": 10_000.0, "employees": 5.0,
                     "employees_prev": 6.0, "rd_staff": 0.0, "degree_staff": 1.0, "tax_paid": 4_000.0}),
    ("sapling_exact_cut", {"revenue": 500_000.0, "revenue_prev": 400_000.0, "rd_expense": 40_000.0, "employees": 7.0,
                           "rd_staff": 2.0, "tax_paid": 10_000.0, "invention_patents_valid": 1.0}),
    ("sapling_strong", {"revenue": 4_000_000.0, "revenue_prev": 2_000_000.0, "rd_expense": 600_000.0,
                        "net_profit": 400_000.0, "employees": 30.0, "employees_prev": 20.0, "rd_staff": 15.0,
                        "degree_staff": 28.0, "invention_patents_valid": 12.0, "ip_filings_3y": 25.0,
                        "tax_paid": 300_000.0, "rd_platform_tier": 3.0, "tech_qualification_tier": 4.0,
                        "gov_st_projects": 6.0, "pct_filings": 2.0, "standards_led": 1.0}),
    ("growth_base", {}),
    ("growth_missing_degree_and_debt_heavy", {"degree_staff": float("nan"), "total_liabilities": 11_000_000.0,
                                              "revenue": 5_000_000.0, "revenue_prev": float("nan")}),
    ("growth_penalised", {"credit_status": "ordinary_dishonest", "admin_penalties_2y": 4.0,
                          "abnormal_operation_list": True, "defendant_lawsuits_1y": 2.0, "tax_credit_grade": "M"}),
    ("expansion_star", {"revenue": 150_000_000.0, "revenue_prev": 100_000_000.0, "rd_expense": 12_000_000.0,
                        "net_profit": 20_000_000.0, "total_assets": 160_000_000.0, "total_liabilities": 40_000_000.0,
                        "tax_paid": 6_000_000.0, "employees": 400.0, "employees_prev": 330.0, "rd_staff": 120.0,
                        "degree_staff": 300.0, "invention_patents_valid": 40.0, "ip_filings_3y": 60.0,
                        "tech_contract_value": 30_000_000.0, "equity_financing_3y": 80_000_000.0,
                        "rd_platform_tier": 2.0, "tech_qualification_tier": 4.0, "srdi": "national",
                        "national_st_awards": 1.0, "standards_led": 5.0, "pct_filings": 6.0, "high_level_talent": 4.0,
                        "tax_credit_grade": "A", "capital_market": True, "gov_st_projects": 8.0}),
    ("expansion_vetoed", {"revenue": 25_000_000.0, "revenue_prev": 30_000_000.0, "rd_expense": 500_000.0,
                          "pboc_special_mention_or_npl": True, "tax_credit_grade": "D"}),
    ("mature_fallback", {"revenue": 450_000_000.0, "revenue_prev": 400_000_000.0, "rd_expense": 30_000_000.0,
                         "net_profit": 30_000_000.0, "total_assets": 500_000_000.0, "total_liabilities": 300_000_000.0,
                         "tax_paid": 25_000_000.0, "employees": 1500.0, "employees_prev": 1400.0, "rd_staff": 200.0,
                         "degree_staff": 900.0, "invention_patents_valid": 6.0, "ip_filings_3y": 9.0,
                         "tech_contract_value": 2_000_000.0, "equity_financing_3y": 0.0, "gov_st_projects": 3.0}),
    ("mature_revoked", {"revenue": 200_000_000.0, "revenue_prev": 0.0, "registration_status": "revoked",
                        "credit_status": "abnormal"}),
]  # fmt: skip


def _firms(make_frame) -> pd.DataFrame:
    return make_frame([o for _, o in FIRMS], index=pd.Index([n for n, _ in FIRMS], name="firm"))


@pytest.fixture(scope="module")
def golden_config() -> PointsConfig:
    return load_points_config("torch-18", overlays=[OVERLAY])


@pytest.fixture(scope="module")
def pinned() -> dict[str, Any]:
    return yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))


def test_the_fixture_covers_every_stage_and_twelve_firms(pinned):
    assert len(pinned["firms"]) == 12
    assert {f["stage"] for f in pinned["firms"].values()} == set(STAGES)


def test_hand_computation_matches_the_pinned_fixture(make_frame, pinned):
    frame = _firms(make_frame)
    for name, row in frame.iterrows():
        hand = hand_points(row.to_dict())
        expected = pinned["firms"][name]
        assert hand["stage"] == expected["stage"]
        assert hand["total"] == pytest.approx(expected["points_total"], abs=1e-9)
        for ind, value in hand["points"].items():
            assert value == pytest.approx(expected["indicators"][ind], abs=1e-9), (name, ind)


def test_engine_reproduces_the_pinned_points(make_frame, golden_config, pinned):
    frame = _firms(make_frame)
    out = score_points(frame, golden_config, fixed_reference(golden_config))
    for name, expected in pinned["firms"].items():
        got = out.loc[name]
        assert got["stage"] == expected["stage"], name
        assert got["veto_reasons"] == expected["veto_reasons"], name
        for ind, value in expected["indicators"].items():
            assert got[f"ind_{ind}_points"] == pytest.approx(value, abs=1e-9), (name, ind)
        for key in ("points_core", "points_bonus", "points_deductions", "points_total"):
            assert got[key] == pytest.approx(expected[key], abs=1e-9), (name, key)


def write_fixture() -> None:
    """Recompute the fixture from the hand rule (run this file as a script)."""
    import importlib.util

    from credit_points.points.testing import uscc_with_check_digit  # noqa: F401 - same firms as the tests

    spec = importlib.util.spec_from_file_location("points_conftest", HERE / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(conftest)  # type: ignore[union-attr]
    records = [{**conftest.BASE_FIRM, **o} for _, o in FIRMS]
    frame = conftest.typed(pd.DataFrame(records, index=[n for n, _ in FIRMS]))
    firms = {}
    for name, row in frame.iterrows():
        hand = hand_points(row.to_dict())
        firms[name] = {
            "stage": hand["stage"],
            "points_total": round(hand["total"], 12),
            "points_core": round(hand["core"], 12),
            "points_bonus": float(hand["bonus"]),
            "points_deductions": float(hand["deductions"]),
            "veto_reasons": hand["veto_reasons"],
            "indicators": {k: round(v, 12) for k, v in hand["points"].items()},
        }
    header = "# Pinned points of the golden firms (torch-18 with golden/five-knots.yaml, fixed reference).\n"
    FIXTURE.write_text(
        header + yaml.safe_dump({"firms": firms}, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )


if __name__ == "__main__":
    write_fixture()
