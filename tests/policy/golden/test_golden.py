"""Golden portfolio: decisions, limits, prices and reason codes worked out by hand from the YAML numbers.

Numbers used (configs/policy/default.yaml and configs/products/*.yaml, version 1.0.0):
risk multipliers by grade 1:1.10 2:1.05 3:1.00 4:0.95 5:0.85 6:0.70 7:0.50 8:0.30; minimum offer 100,000;
LPR 3.00%, capital 0.84%, cost 0.60%; LGD 45%; revolving EAD 75% of the limit; refer rules: > 30 days
overdue, debt to assets > 85%.
科技贷 keji_dai: capacity min(15% R + 30% orders + subsidies + 3 T + 30% wages + 200,000 talent, 50% R + 1,000,000);
points >=110 1.15, >=100 1.00, >=80 0.80, >=60 0.50, else 0.30; cut-off 6%, refer above 3%; subsidy 0.50%,
ceiling LPR + 1%; pool 50%, at most 1,500,000 per loan.
善新贷 shanxin_dai: capacity min(30% R, 7 T); points ... >=80 0.90, >=60 0.70, else 0.50; revolving; no
subsidy, no ceiling; pool 30% + 5 pp pure credit, at most 1,500,000.
积分贷 jifen_dai: capacity min(30% R, 7 T), seed/sapling floor 500,000; points >=110 1.15, >=100 1.00, >=80 0.80,
>=60 0.50, else 0; cut-off 8%, refer above 4%; subsidy 0.50%, ceiling LPR + 1%; pool 35%, at most 1,000,000.
无还本续贷: top 500, bank debt > 0, capacity = bank debt, no headroom; cut-off 10%; pool 35%, at most 1,000,000.
Reason codes: V01 serious dishonesty, V03 PBoC NPL, V04 tax grade D; P01 points/high-tech, P02 R&D
intensity, P03 firm age, P11 overdue (refer), P12 leverage (refer); L01 points tier, L02 headroom,
L04 minimum offer; D03 administrative penalties, D06 tax grade M; families M02 conduct, M03 leverage,
M05 scale. Base contributions: leverage +0.5, scale +0.2, conduct +0.05 (points -0.4 is not adverse).
"""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
import yaml

from credit_points.explain.config import ReasonCodesConfig
from credit_points.explain.reasons import reason_codes
from credit_points.policy.config import PolicyConfig
from credit_points.policy.decision import apply_policy


def floor10k(x: float) -> float:
    return math.floor(round(x / 10_000, 9)) * 10_000


FAMILIES = "M03;M05;M02"  # leverage 0.5 > scale 0.2 > conduct 0.05
KEJI_CAP_BASE = 0.15 * 10e6 + 3 * 0.5e6 + 0.3 * 3e6  # 3,900,000 (< 50% R + 1,000,000 = 6,000,000)

# firm: (product, decision, limit, binding constraint, reason codes)
EXPECTED: dict[str, tuple[str, str, float, str, str]] = {
    "G01": ("keji_dai", "approve", floor10k(KEJI_CAP_BASE * 1.00 * 1.00), "capacity", ""),
    # 120 points -> 1.15, grade 1 -> 1.10: above capacity, so not adverse
    "G02": ("keji_dai", "approve", floor10k(KEJI_CAP_BASE * 1.15 * 1.10), "capacity", ""),
    # no tech-SME registration: 积分贷 only; 85 points -> 0.80
    "G03": (
        "jifen_dai",
        "approve",
        floor10k(min(0.3 * 10e6, 7 * 0.5e6) * 0.80),
        "points_multiplier",
        "L01;" + FAMILIES,
    ),
    # grade 5 -> 0.85 (3,315,000 -> 3,310,000)
    "G04": ("keji_dai", "approve", floor10k(KEJI_CAP_BASE * 0.85), "risk_multiplier", FAMILIES),
    # grade 7 -> 0.50; PD 4.5% above 科技贷's 3% refer line
    "G05": ("keji_dai", "refer", floor10k(KEJI_CAP_BASE * 0.50), "risk_multiplier", "T01;" + FAMILIES),
    # PD 7%: 科技贷 (6%) out, 积分贷 (8%) in, above its 4% refer line
    "G06": ("jifen_dai", "refer", floor10k(3e6 * 0.50), "risk_multiplier", "T01;" + FAMILIES),
    # PD 12%: above every cut-off (renewal's 10% too)
    "G07": ("", "decline", 0.0, "pd_cutoff", "T02;" + FAMILIES),
    "G08": ("", "decline", 0.0, "veto", "V04;" + FAMILIES),
    "G09": ("", "decline", 0.0, "veto", "V01;V03;M03;M05"),
    # R&D 2% fails 科技贷 and 积分贷; nearest reason product is 积分贷 (1 failed rule)
    "G10": ("", "decline", 0.0, "eligibility", "P02;" + FAMILIES),
    "G11": ("", "decline", 0.0, "eligibility", "P02;P03;M03;M05"),
    # 50 points and only a tech-SME: fails points-or-high-tech everywhere
    "G12": ("", "decline", 0.0, "eligibility", "P01;" + FAMILIES),
    # 50 points but high-tech: 科技贷 keeps 0.30, 积分贷 gives 0
    "G13": ("keji_dai", "approve", floor10k(KEJI_CAP_BASE * 0.30), "points_multiplier", "L01;" + FAMILIES),
    # seed: min(120,000, 35,000) lifted to the 500,000 floor; 90 points -> 0.80; grade 4 -> 0.95
    "G14": ("jifen_dai", "approve", floor10k(500_000 * 0.80 * 0.95), "risk_multiplier", "L01;" + FAMILIES),
    # 7 x 12,000 = 84,000 -> 80,000 < the 100,000 minimum offer
    "G15": ("", "decline", 0.0, "min_limit", "L04;" + FAMILIES),
    # both 科技贷 (18.9 M) and 积分贷 (18 M) hit the 10 M cap; tie -> catalogue order
    "G16": ("keji_dai", "approve", 10_000_000.0, "cap", ""),
    # 3,900,000 - 3,000,000 unsecured debt
    "G17": ("keji_dai", "approve", floor10k(KEJI_CAP_BASE - 3e6), "headroom", "L02;" + FAMILIES),
    # renewal of 6,000,000 beats 科技贷's 400,000 after headroom
    "G18": ("renewal_without_principal", "approve", 6_000_000.0, "capacity", ""),
    "G19": ("keji_dai", "refer", floor10k(KEJI_CAP_BASE), "capacity", "P11;" + FAMILIES),
    # 善新贷 3,000,000 x 0.70 x 0.95 = 1,995,000 beats 积分贷 3,000,000 x 0.50 x 0.95
    "G20": ("shanxin_dai", "approve", floor10k(3e6 * 0.70 * 0.95), "risk_multiplier", "L01;" + FAMILIES),
    # debt to assets 87.5% -> refer; deductions 10 (penalties) before 3 (tax grade M)
    "G21": ("keji_dai", "refer", floor10k(KEJI_CAP_BASE), "capacity", "P12;D03;D06;M03"),
}

# firm: (rate, expected loss, expected loss net of risk compensation), by hand
PRICES: dict[str, tuple[float, float, float]] = {
    # 3.00 + 0.4% x 45% x 50% + 0.84 + 0.60 - 0.50 = 4.03% -> ceiling 4.00%; pool pays 50% of 1,755,000
    "G01": (0.04, 0.004 * 0.45 * 3.9e6, 0.004 * (0.45 * 3.9e6 - 0.5 * 0.45 * 3.9e6)),
    # pool capped at 1,500,000 of the 4,500,000 loss; 3.00 + 0.024 + 0.84 + 0.60 - 0.50 = 3.964% -> 3.96%
    "G16": (0.0396, 0.0008 * 0.45 * 10e6, 0.0008 * (0.45 * 10e6 - 1.5e6)),
    # renewal: 3.00 + 0.4% x 45% x 65% + 1.44 = 4.557% -> ceiling 4.00%; pool 35% (945,000 < 1,000,000)
    "G18": (0.04, 0.004 * 0.45 * 6e6, 0.004 * 0.45 * 6e6 * 0.65),
    # revolving EAD 75% of 1,990,000; 3.00 + 1% x 45% x 65% + 1.44 = 4.7325% -> 4.73%, no ceiling
    "G20": (0.0473, 0.01 * 0.45 * 0.75 * 1.99e6, 0.01 * 0.45 * 0.75 * 1.99e6 * 0.65),
}


@pytest.fixture(scope="module")
def golden(frames: ModuleType) -> pd.DataFrame:
    data = yaml.safe_load((Path(__file__).parent / "firms.yaml").read_text(encoding="utf-8"))
    rows = [{**data["base"], **changes} for changes in data["firms"].values()]
    return frames.make_frame(rows, index=list(data["firms"]))


def test_golden_policy_version_is_the_one_worked_out(policy: PolicyConfig, codes: ReasonCodesConfig) -> None:
    # reason codes 1.1.0: the PD triggers T01 (refer band) and T02 (cut-off) lead a PD-decided outcome
    assert policy.version == "1.0.0" and codes.version == "1.1.0"


def test_golden_decisions_limits_and_bindings(golden: pd.DataFrame, policy: PolicyConfig) -> None:
    out = apply_policy(golden, policy)
    got = {
        firm: (r["product"], r["decision"], r["limit"], r["binding_constraint"]) for firm, r in out.iterrows()
    }
    want = {firm: e[:4] for firm, e in EXPECTED.items()}
    assert got == want


def test_golden_reason_codes(golden: pd.DataFrame, policy: PolicyConfig, codes: ReasonCodesConfig) -> None:
    out = reason_codes(golden, policy, codes)
    assert out["reason_codes"].to_dict() == {firm: e[4] for firm, e in EXPECTED.items()}


def test_golden_prices_and_expected_loss(golden: pd.DataFrame, policy: PolicyConfig) -> None:
    out = apply_policy(golden, policy)
    for firm, (rate, loss, loss_net) in PRICES.items():
        assert out.loc[firm, "rate"] == pytest.approx(rate, abs=1e-12), firm
        assert out.loc[firm, "expected_loss"] == pytest.approx(loss, rel=1e-12), firm
        assert out.loc[firm, "expected_loss_net"] == pytest.approx(loss_net, rel=1e-12), firm
