"""The synthetic panel: determinism, validity, realism (stages, default rates, shock, veto, correlation)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from credit_points.datasets import uscc
from credit_points.datasets.generator import generate_panel
from credit_points.datasets.generator_config import load_generator_config
from credit_points.datasets.io import read_table
from credit_points.datasets.schema import validate_applicants
from credit_points.exceptions import DataValidationError
from credit_points.pipelines.generate import file_sha256, write_panel


def _digest(frame: pd.DataFrame) -> str:
    import hashlib

    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()).hexdigest()


def _stage(revenue: pd.Series) -> pd.Series:
    config = load_generator_config()
    lowers = [s.lower for s in config.stages]
    ids = np.array([s.id for s in config.stages])
    return pd.Series(ids[np.searchsorted(lowers, revenue.to_numpy(), side="right") - 1], index=revenue.index)


def test_same_seed_same_panel_other_seed_other_panel() -> None:
    a1, t1 = generate_panel(400, seed=3)
    a2, t2 = generate_panel(400, seed=3)
    a3, _ = generate_panel(400, seed=4)
    assert _digest(a1) == _digest(a2) and _digest(t1) == _digest(t2)
    assert _digest(a1) != _digest(a3)


def test_write_panel_is_byte_identical_and_keeps_true_pd_apart(tmp_path: Path) -> None:
    # Given two runs with the same seed into different folders
    first = write_panel(tmp_path / "one", 300, (2020, 2023), seed=9)
    second = write_panel(tmp_path / "two", 300, (2020, 2023), seed=9)
    # Then the files are byte-identical and the manifest records their hashes and counts
    for name in ("applicants", "truth", "manifest"):
        assert first[name].read_bytes() == second[name].read_bytes()
    manifest = json.loads(first["manifest"].read_text(encoding="utf-8"))
    assert manifest["seed"] == 9
    assert manifest["files"]["applicants"]["sha256"] == file_sha256(first["applicants"])
    applicants, truth = read_table(first["applicants"]), read_table(first["truth"])
    decisions, loans = read_table(first["historical_decisions"]), read_table(first["performance"])
    assert manifest["rows"] == {"applicants": len(applicants), "truth": len(truth),
                                "historical_decisions": len(decisions), "booked": int(decisions["booked"].sum()),
                                "performance": len(loans)}  # fmt: skip
    # the true PD and outcome stay apart from the applicants, in the truth file
    assert "true_pd" not in applicants.columns
    assert list(truth.columns) == ["firm_id", "as_of_date", "true_pd", "default_12m"]


def test_output_validates_clean(panel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    applicants, _ = panel
    good, errors = validate_applicants(applicants, require_outcome=True)
    assert len(errors) == 0
    pd.testing.assert_frame_equal(good, applicants)


def test_identity_codes_rows_and_dates(panel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    applicants, truth = panel
    year = applicants["as_of_date"].dt.year
    # one row per firm per year; valid unique codes; truth on the same rows
    assert not applicants.duplicated(["firm_id", "as_of_date"]).any()
    assert applicants.groupby(["firm_id", year]).size().max() == 1
    codes = applicants["firm_id"].drop_duplicates()
    assert uscc.valid_mask(codes).all()
    assert applicants.groupby("firm_id")["name"].nunique().max() <= 1
    assert set(year) == set(range(2019, 2025))
    assert (applicants["founded_date"] <= applicants["as_of_date"]).all()
    assert truth["firm_id"].equals(applicants["firm_id"]) and truth["as_of_date"].equals(
        applicants["as_of_date"]
    )
    assert truth["true_pd"].between(0, 1, inclusive="neither").all()
    # firms enter during the window and some exit before its end
    first_year = year.groupby(applicants["firm_id"]).min()
    last_year = year.groupby(applicants["firm_id"]).max()
    assert (first_year > 2019).mean() > 0.1 and (last_year < 2024).mean() > 0.1
    # names look like Chinese enterprise names
    names = applicants["name"].dropna()
    assert names.str.endswith("有限公司").all() and names.str.contains(r"[\u4e00-\u9fff]{4,}").all()
    assert (
        applicants["industry_code"]
        .isin(["I65", "C39", "M73", "C35", "C40", "I64", "C27", "C38", "M75"])
        .all()
    )
    assert applicants["zone"].nunique() >= 3


def test_stage_shares_and_movement(panel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    applicants, _ = panel
    stage = _stage(applicants["revenue"])
    shares = stage.value_counts(normalize=True)
    # many seed and sapling firms, few mature ones, every stage present
    assert shares[["seed", "sapling"]].sum() > 0.55
    assert 0.005 < shares["mature"] < 0.08
    assert shares["seed"] > shares["growth"] > shares["mature"]
    # firms move between stages over the years
    moves = stage.groupby(applicants["firm_id"]).nunique()
    assert (moves > 1).mean() > 0.15
    # revenue is log-normal within a stage: log revenue roughly symmetric in the growth band
    log_rev = np.log(applicants.loc[stage == "growth", "revenue"])
    assert abs(log_rev.mean() - log_rev.median()) < 0.15


def test_default_rates_shock_and_young_small_firms(panel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    applicants, truth = panel
    year = applicants["as_of_date"].dt.year
    assert 0.02 <= applicants["default_12m"].mean() <= 0.04
    by_year = truth["true_pd"].groupby(year).mean()
    assert by_year.drop(2022).between(0.018, 0.045).all()
    # the economy-wide shock year stands out
    assert by_year[2022] > 1.3 * by_year.drop([2022]).mean()
    # young small firms are riskier
    age = (applicants["as_of_date"] - applicants["founded_date"]).dt.days / 365.25
    young_small = (age < 3) & _stage(applicants["revenue"]).isin(["seed", "sapling"])
    assert truth.loc[young_small, "true_pd"].mean() > 1.8 * truth.loc[~young_small, "true_pd"].mean()


def test_oracle_auc_is_learnable_but_noisy(panel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    applicants, truth = panel
    year = applicants["as_of_date"].dt.year
    pooled = roc_auc_score(applicants["default_12m"], truth["true_pd"])
    assert 0.78 <= pooled <= 0.90
    for y in (2019, 2024):
        assert (
            0.72
            <= roc_auc_score(applicants.loc[year == y, "default_12m"], truth.loc[year == y, "true_pd"])
            <= 0.93
        )


def test_veto_conditions_are_rare_and_risky(panel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    applicants, truth = panel
    veto = (
        (applicants["credit_status"] == "serious_dishonest")
        | ~applicants["registration_status"].isin(["active", "operating"])
        | applicants["pboc_special_mention_or_npl"]
        | (applicants["tax_credit_grade"] == "D")
    )
    assert 0.004 <= veto.mean() <= 0.025
    assert truth.loc[veto, "true_pd"].mean() > 5 * truth.loc[~veto, "true_pd"].mean()


def test_indicators_correlate_as_in_life(panel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    a, _ = panel
    earning = a[a["revenue"] > 0]
    rd_intensity = earning["rd_expense"] / earning["revenue"]
    rd_staff_ratio = earning["rd_staff"] / earning["employees"]

    def rho(x: pd.Series, y: pd.Series) -> float:
        return float(spearmanr(x, y).statistic)

    assert rho(rd_intensity, rd_staff_ratio) > 0.3
    assert rho(earning["invention_patents_valid"], earning["tech_qualification_tier"]) > 0.3
    assert rho(rd_intensity, earning["tech_qualification_tier"]) > 0.2
    assert rho(earning["tax_paid"], earning["revenue"]) > 0.7
    assert rho(earning["wages_paid"], earning["revenue"]) > 0.7
    # industry matters: research firms spend more of revenue on R&D than equipment makers
    by_industry = rd_intensity.groupby(earning["industry_code"]).median()
    assert by_industry["M73"] > 2 * by_industry["C35"]


def test_missing_values_only_where_real_data_has_them(
    panel: tuple[pd.DataFrame, pd.DataFrame], fields
) -> None:
    applicants, _ = panel
    missing = applicants.isna().mean()
    for spec in fields.fields:
        if spec.nullable and spec.name not in ("name",):
            assert missing[spec.name] > 0.01, spec.name
        if not spec.nullable:
            assert missing[spec.name] == 0, spec.name


def test_zone_and_argument_checks() -> None:
    applicants, _ = generate_panel(50, seed=1, zone="wuxi_hitech")
    assert set(applicants["zone"]) == {"wuxi_hitech"} and applicants["firm_id"].str[2:8].eq("320200").all()
    with pytest.raises(DataValidationError, match="zone"):
        generate_panel(10, zone="atlantis")
    with pytest.raises(DataValidationError, match="years"):
        generate_panel(10, years=(2024, 2019))
    with pytest.raises(DataValidationError, match="years"):
        generate_panel(10, years=(2030, 2031))
    with pytest.raises(DataValidationError, match="n_firms"):
        generate_panel(0)


def test_true_risk_is_non_linear_in_financial_health(panel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # Given the true log-odds and two financial ratios
    applicants, truth = panel
    target = np.log(truth["true_pd"] / (1 - truth["true_pd"])).to_numpy()
    leverage = (applicants["total_liabilities"] / applicants["total_assets"]).to_numpy()
    revenue = applicants["revenue"].to_numpy()
    margin = np.where(
        revenue > 0, applicants["net_profit"].to_numpy() / np.where(revenue > 0, revenue, 1.0), -1.0
    )
    linear = np.column_stack([np.ones_like(leverage), leverage, margin])
    bent = np.column_stack([linear, np.maximum(leverage - 0.65, 0), np.sqrt(np.maximum(-margin, 0))])

    def r_squared(design: np.ndarray) -> float:
        beta, *_ = np.linalg.lstsq(design, target, rcond=None)
        return 1 - float(np.var(target - design @ beta)) / float(np.var(target))

    # Then a hinge in leverage and a square root in losses explain clearly more than straight lines
    assert r_squared(bent) > r_squared(linear) + 0.015
