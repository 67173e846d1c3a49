"""The synthetic enterprise panel: firm-years of applicants with outcomes, and the true PD of each row.

The generating process (documented with its equations in ``docs/data.md``, parameters in
``configs/generator.yaml``): firms get persistent latent traits (innovation propensity, management
quality, conduct, an unobserved frailty); revenue follows a log random walk from a stage-banded start, so
firms move between stages; every indicator is drawn from revenue, size, industry and the traits, so they
correlate as in life; conduct flags are rare; the default probability is a logistic function of
innovation, financial health and conduct with non-linear terms, interactions, an economy-wide shock and
later drift. All draws are vectorised over firms, one loop step per year, from one seeded generator.

Examples:
    >>> applicants, truth = generate_panel(200, years=(2021, 2022), seed=1)
    >>> "true_pd" in applicants.columns, list(truth.columns)
    (False, ['firm_id', 'as_of_date', 'true_pd'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr, ndtri

from credit_points.datasets import uscc
from credit_points.datasets.fields import FieldsConfig, load_fields
from credit_points.datasets.generator_config import GeneratorConfig, load_generator_config
from credit_points.exceptions import DataValidationError

TRUTH_COLUMNS = ["firm_id", "as_of_date", "true_pd"]
_REVENUE_FLOOR = 1e5  # yuan added before logs so that pre-revenue firms stay finite


@dataclass
class _Firms:
    """Persistent firm traits (one entry per firm)."""

    zone: np.ndarray
    industry: np.ndarray
    innov: np.ndarray
    mgmt: np.ndarray
    conduct: np.ndarray
    frailty: np.ndarray
    size_noise: np.ndarray
    leverage_noise: np.ndarray
    qual_noise: np.ndarray
    first_year: np.ndarray  # index of the first panel year
    founded: np.ndarray  # datetime64[D]
    pre_revenue: np.ndarray  # bool
    registration_operating: np.ndarray  # bool: 在业 rather than 存续
    has_bank: np.ndarray
    credit_file_if_unbanked: np.ndarray
    vc_backed: np.ndarray


def _truncated_normal(
    rng: np.random.Generator, mean: np.ndarray, sd: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Inverse-CDF draws of a normal truncated to [low, high] (vectorised)."""
    a = ndtr((low - mean) / sd)
    b = ndtr((high - mean) / sd)
    u = a + rng.random(mean.shape) * (b - a)
    return mean + sd * ndtri(np.clip(u, 1e-12, 1 - 1e-12))


def _firms(
    n: int, n_years: int, config: GeneratorConfig, zone: int | None, start_year: int, rng: np.random.Generator
) -> _Firms:
    zone_w = np.array([z.weight for z in config.zones])
    ind_w = np.array([i.weight for i in config.industries])
    zones = (
        np.full(n, zone, dtype=np.int64)
        if zone is not None
        else rng.choice(len(zone_w), n, p=zone_w / zone_w.sum())
    )
    industry = rng.choice(len(ind_w), n, p=ind_w / ind_w.sum())
    entrant = (rng.random(n) < config.entry_share) & (n_years > 1)
    first_year = np.where(entrant, rng.integers(1, max(n_years, 2), n), 0)
    start = np.datetime64(f"{start_year}-01-01", "D")
    age_days = (rng.gamma(1.6, config.incumbent_age_mean / 1.6, n) * 365.25 + 120).astype(np.int64)
    founded_incumbent = start - age_days.astype("timedelta64[D]")
    founding_year_start = (start_year + first_year - 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    founded_entrant = founding_year_start + rng.integers(0, 365, n).astype("timedelta64[D]")
    founded = np.where(entrant, founded_entrant, founded_incumbent)
    return _Firms(
        zone=zones,
        industry=industry,
        innov=rng.standard_normal(n),
        mgmt=rng.standard_normal(n),
        conduct=rng.standard_normal(n),
        frailty=rng.standard_normal(n) * config.default_model.frailty_sd,
        size_noise=rng.standard_normal(n),
        leverage_noise=rng.standard_normal(n),
        qual_noise=rng.standard_normal(n),
        first_year=first_year,
        founded=founded,
        pre_revenue=rng.random(n) < config.pre_revenue_share,
        registration_operating=rng.random(n) < 0.5,
        has_bank=rng.random(n) < 0.55,
        credit_file_if_unbanked=rng.random(n) >= config.no_credit_file_share,
        vc_backed=rng.random(n) < expit(-2.0 + 0.9 * rng.standard_normal(n)),
    )


def _initial_log_revenue(firms: _Firms, config: GeneratorConfig, rng: np.random.Generator) -> np.ndarray:
    """Log revenue at each firm's first panel year: stage by the configured shares, log-normal within it."""
    n = firms.innov.size
    lowers = np.array([s.lower for s in config.stages], dtype=float)
    uppers = np.append(lowers[1:], config.top_band_upper)
    shares = np.array([s.share for s in config.stages])
    stage = rng.choice(lowers.size, n, p=shares / shares.sum())
    # Entrants start small: the two lowest bands.
    entrant = firms.first_year > 0
    stage = np.where(entrant, rng.choice(2, n, p=[0.7, 0.3]), stage)
    low = np.log(np.maximum(lowers[stage], 5e4))
    high = np.log(uppers[stage])
    mean = (low + high) / 2 + 0.15 * firms.innov
    sd = np.maximum((high - low) / 2.5, 0.3)
    return _truncated_normal(rng, mean, sd, low, high)


def _names(firms: _Firms, config: GeneratorConfig, rng: np.random.Generator) -> np.ndarray:
    n = firms.innov.size
    chars = np.array(list(config.brand_chars_zh))
    brand = np.char.add(chars[rng.integers(0, chars.size, n)], chars[rng.integers(0, chars.size, n)])
    three = rng.random(n) < 0.3
    brand = np.where(three, np.char.add(brand, chars[rng.integers(0, chars.size, n)]), brand)
    cities = np.array([z.city_zh for z in config.zones])[firms.zone]
    words = np.empty(n, dtype=object)
    for k, spec in enumerate(config.industries):
        idx = np.flatnonzero(firms.industry == k)
        options = np.array(spec.words_zh)
        words[idx] = options[rng.integers(0, options.size, idx.size)]
    suffix = np.where(rng.random(n) < 0.85, "有限公司", "股份有限公司")
    return np.char.add(np.char.add(np.char.add(cities, brand), words.astype(str)), suffix).astype(object)


def _poisson(rng: np.random.Generator, lam: np.ndarray) -> np.ndarray:
    return rng.poisson(np.clip(lam, 0, 1e6)).astype(np.float64)


def generate_panel(
    n_firms: int,
    years: tuple[int, int] = (2019, 2024),
    seed: int = 0,
    zone: str | None = None,
    *,
    config: GeneratorConfig | None = None,
    fields: FieldsConfig | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw a firm-year panel of applicants and the true default probability of each row.

    Args:
        n_firms: firms ever in the panel (incumbents and firms founded inside the window); the number of
            rows is about 4 per firm for a 6-year window, as firms enter and exit.
        years: first and last year (inclusive); ``as_of_date`` falls inside each year.
        seed: the only source of randomness: the same seed gives the same frames.
        zone: draw every firm in this zone (an id from ``configs/generator.yaml``); all zones by default.
        config: generator parameters (default ``configs/generator.yaml``).
        fields: the applicant catalogue (default ``configs/fields.yaml``).

    Returns:
        ``(applicants, truth)``: applicants has every catalogue field including ``default_12m``, typed like
        validated good rows (numbers float64, flags bool, text ``str``, dates ``datetime64[ns]``), ordered by
        year then firm; truth has ``firm_id``, ``as_of_date``, ``true_pd`` on the same rows.

    Raises:
        DataValidationError: on a bad argument (naming it).
    """
    config = config or load_generator_config()
    fields = fields or load_fields()
    first, last = int(years[0]), int(years[1])
    if n_firms < 1:
        raise DataValidationError("must be at least 1", field="n_firms", value=n_firms)
    if last < first or first < 1990:
        raise DataValidationError(
            "expected first ≤ last and first ≥ 1990", field="years", value=f"{first}-{last}"
        )
    today = np.datetime64(pd.Timestamp.now().date(), "D")
    if np.datetime64(f"{last}-01-01", "D") > today:
        raise DataValidationError(
            "the last year must not be in the future", field="years", value=f"{first}-{last}"
        )
    zone_ids = [z.id for z in config.zones]
    if zone is not None and zone not in zone_ids:
        raise DataValidationError(f"unknown zone; expected one of {zone_ids}", field="zone", value=zone)
    rng = np.random.default_rng(seed)
    n_years = last - first + 1
    firms = _firms(n_firms, n_years, config, zone_ids.index(zone) if zone is not None else None, first, rng)
    divisions = np.array([z.division for z in config.zones])[firms.zone]
    codes = uscc.generate_codes(n_firms, rng, divisions)
    names = _names(firms, config, rng)
    names[rng.random(n_firms) < config.missing.get("name", 0.0)] = None

    log_rev = _initial_log_revenue(firms, config, rng)
    alive = np.ones(n_firms, dtype=bool)
    prev: dict[str, np.ndarray] = {}
    patents = np.zeros(n_firms)
    parts: list[dict[str, np.ndarray]] = []
    for t in range(n_years):
        year = first + t
        active = alive & (firms.first_year <= t)
        entering = firms.first_year == t
        if t > 0:
            growth = _growth(firms, config, year, prev["age"], log_rev, rng)
            log_rev = np.where(firms.first_year < t, log_rev + growth, log_rev)
            log_rev = np.minimum(log_rev, np.log(config.top_band_upper))
        rows, patents = _year(firms, config, year, t, log_rev, prev, patents, entering, active, rng)
        rows["_firm"] = np.arange(n_firms)
        rows["_active"] = active
        parts.append(rows)
        prev = rows
        exit_p = np.where(
            rows["default_12m"] > 0,
            config.exit_after_default,
            config.exit_rate * (1 + np.exp(-rows["age"] / 2)),
        )
        exit_p = np.where(
            np.isin(rows["registration_status"], ["revoked", "deregistered", "liquidation"]), 0.8, exit_p
        )
        alive &= ~(active & (rng.random(n_firms) < exit_p))
    return _assemble(parts, codes, names, firms, config, fields, today)


def _growth(
    firms: _Firms,
    config: GeneratorConfig,
    year: int,
    age: np.ndarray,
    log_rev: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Yearly log growth of revenue: fast when young, lifted by innovation and management, hit by the shock."""
    model = config.default_model
    sensitivity = np.array([i.shock_sensitivity for i in config.industries])[firms.industry]
    shock = -0.12 * sensitivity if model.shock_year == year else 0.0
    # Growth slows as firms get large (mean reversion above ~100 M yuan).
    large = np.maximum(log_rev - np.log(1e8), 0)
    mean = 0.03 + 0.35 * np.exp(-age / 4) + 0.07 * firms.innov + 0.05 * firms.mgmt + shock - 0.15 * large
    return mean + 0.33 * rng.standard_normal(firms.innov.size)


def _year(
    firms: _Firms,
    config: GeneratorConfig,
    year: int,
    t: int,
    log_rev: np.ndarray,
    prev: dict[str, np.ndarray],
    patents: np.ndarray,
    entering: np.ndarray,
    active: np.ndarray,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every field and the true PD of every firm for one year (inactive firms are dropped later)."""
    n = firms.innov.size
    ind = config.industries
    std = rng.standard_normal
    year_start = np.datetime64(f"{year}-01-01", "D")
    days = 366 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 365
    as_of = year_start + rng.integers(0, days, n).astype("timedelta64[D]")
    as_of = np.maximum(as_of, firms.founded + np.timedelta64(30, "D"))
    age = (as_of - firms.founded).astype(np.float64) / 365.25

    pre_revenue = firms.pre_revenue & (age < 2.0) & (log_rev < np.log(5e5))
    revenue = np.where(pre_revenue, 0.0, np.round(np.exp(log_rev), -2))
    ln_size = np.log(revenue + 2e5) - 15
    employees = np.maximum(1, np.round(np.exp(2.8 + 0.6 * ln_size + 0.25 * firms.size_noise + 0.1 * std(n))))

    # Innovation: industry profile + innovation propensity; intensity falls with size.
    rd_base = np.array([i.rd_intensity for i in ind])[firms.industry]
    rd_intensity = expit(logit(rd_base) + 0.6 * firms.innov - 0.12 * ln_size + 0.25 * std(n))
    rd_intensity = np.clip(rd_intensity, 0.002, 0.9)
    rd_expense = np.where(
        revenue > 0,
        np.round(rd_intensity * revenue, -2),
        np.round(np.exp(np.log(3e5) + 0.6 * firms.innov + 0.5 * std(n)), -2),
    )
    staff_base = np.array([i.rd_staff_share for i in ind])[firms.industry]
    rd_share = expit(logit(staff_base) + 0.6 * firms.innov + 0.2 * std(n))
    rd_staff = rng.binomial(employees.astype(np.int64), rd_share).astype(np.float64)
    degree_p = expit(0.1 + 0.5 * firms.innov + 0.8 * (staff_base - 0.25) + 0.2 * std(n))
    degree_staff = rd_staff + rng.binomial((employees - rd_staff).astype(np.int64), degree_p)
    patent_rate = np.array([i.patent_rate for i in ind])[firms.industry]
    lam = 0.35 * patent_rate * np.exp(0.8 * firms.innov + 0.35 * (np.log(employees) - 3))
    seeded = entering | (t == 0)
    patents = np.where(seeded, _poisson(rng, lam * np.minimum(age, 8)), patents + _poisson(rng, lam))
    ip_filings_3y = _poisson(rng, 3 * 1.8 * lam * np.minimum(age, 3) / 3)
    pct_filings = _poisson(rng, 0.04 * lam * np.exp(0.5 * firms.innov))
    standards_led = _poisson(rng, 0.03 * np.exp(0.9 * firms.innov + 0.5 * (np.log(employees) - 3)))
    platform_z = 0.9 * firms.innov + 0.5 * (np.log(employees) - 3) + 0.3 * firms.qual_noise + 0.1 * std(n)
    rd_platform_tier = np.digitize(platform_z, [0.9, 1.9, 2.9]).astype(np.float64)
    gov_st_projects = _poisson(rng, 0.15 * np.exp(0.8 * firms.innov + 0.3 * (np.log(employees) - 3)))
    national_st_awards = _poisson(rng, 0.002 * np.exp(1.2 * firms.innov + 0.4 * (np.log(employees) - 3)))
    high_level_talent = _poisson(rng, 0.2 * np.exp(0.7 * firms.innov + 0.5 * (np.log(employees) - 3)))
    qual_z = (
        0.9 * firms.innov
        + 0.35 * (np.log(employees) - 3)
        + 2.5 * (rd_intensity - 0.05)
        + 0.4 * firms.qual_noise
        + 0.15 * std(n)
        - 0.5 * np.exp(-age)
    )
    tier = np.digitize(qual_z, [-0.7, 0.3, 0.9, 2.6]).astype(np.float64)
    srdi = np.where(tier >= 4, "national", np.where((tier >= 3) & (qual_z > 1.5), "provincial", "none"))
    capital_market = rng.random(n) < expit(-6.5 + 0.9 * (np.log(revenue + 1) - 17) + 0.6 * firms.innov)

    # Financial health: margin, assets, leverage; tax and wages follow revenue and staff.
    margin = np.clip(
        0.05
        - 0.3 * np.exp(-age / 2)
        + 0.06 * firms.mgmt
        + 0.08 * std(n)
        - (0.04 if config.default_model.shock_year == year else 0.0),
        -1.5,
        0.45,
    )
    wage = 9e4 * np.exp(0.3 * degree_staff / employees + 0.15 * std(n))
    wages_paid = np.round(employees * wage, -2)
    net_profit = np.where(
        revenue > 0, np.round(margin * revenue, -2), -np.round(rd_expense + 0.3 * wages_paid, -2)
    )
    total_assets = np.round((revenue + 3e5) * np.exp(0.1 + 0.35 * std(n)), -2)
    leverage = 1.15 * expit(
        -0.3 - 0.45 * firms.mgmt + 0.3 * firms.leverage_noise + 0.3 * std(n) - 1.2 * np.minimum(margin, 0)
    )
    total_liabilities = np.round(leverage * total_assets, -2)
    tax_rate = np.where(margin > 0, 0.02 + 0.05 * expit(8 * margin), 0.012) * np.exp(0.25 * std(n))
    tax_paid = np.round(revenue * tax_rate, -2)
    orders_backlog = np.round(revenue * np.exp(np.log(0.3) + 0.7 * std(n)), -2)
    gets_subsidy = rng.random(n) < expit(-0.8 + 0.5 * tier + 0.3 * firms.innov)
    gov_subsidies = np.where(
        gets_subsidy, np.round(0.02 * (revenue + 5e5) * np.exp(0.6 * std(n)) + 5e4 * tier, -2), 0.0
    )
    raised = firms.vc_backed & (rng.random(n) < expit(0.5 * firms.innov - 0.2 * (age - 3)))
    equity_financing_3y = np.where(
        raised, np.round(np.exp(np.log(8e6) + 0.5 * firms.innov + 1.0 * std(n)), -2), 0.0
    )
    tech_deals = rng.random(n) < expit(-0.8 + 0.8 * firms.innov)
    tech_contract_value = np.where(
        tech_deals, np.round(0.1 * (revenue + 2e5) * np.exp(0.8 * std(n)), -2), 0.0
    )

    # Credit: bank debt, the credit file, conduct.
    distress = 1.5 * (leverage - 0.6) - 2.0 * margin - 0.5 * firms.conduct + 0.5 * std(n)
    has_bank = firms.has_bank | (revenue > 2e7)
    existing_bank_debt = np.where(has_bank, np.round(total_liabilities * rng.beta(2, 3, n), -2), 0.0)
    existing_unsecured_debt = np.round(existing_bank_debt * rng.beta(1.5, 4, n), -2)
    has_file = has_bank | firms.credit_file_if_unbanked
    overdue = rng.random(n) < expit(-3.3 + 1.2 * distress)
    overdue_days = np.where(overdue, np.clip(np.round(np.exp(np.log(12) + 1.1 * std(n))), 1, 720), 0.0)
    max_overdue = np.where(has_file, overdue_days, np.nan)
    grade_z = 0.9 * firms.conduct + 0.4 * firms.mgmt - 0.5 * distress + 0.4 * std(n)
    tax_grade = np.array(["D", "C", "B", "A"])[np.digitize(grade_z, [-3.3, -1.8, 0.55])]
    tax_grade = np.where((age < 1.0) & (tax_grade != "D"), "M", tax_grade)
    tax_grade = np.where((tax_grade == "B") & (rng.random(n) < 0.12), "M", tax_grade)
    admin_penalties = _poisson(rng, 0.05 * np.exp(-0.9 * firms.conduct))
    lawsuits = _poisson(rng, 0.04 * np.exp(0.9 * distress))
    conduct_z = -firms.conduct + 0.35 * distress + 0.5 * std(n)
    credit_status = np.array(["good", "abnormal", "ordinary_dishonest", "serious_dishonest"])[
        np.digitize(conduct_z, [2.2, 2.75, 3.35])
    ]
    bad_registration = rng.random(n) < expit(-6.4 + 0.8 * distress)
    registration = np.where(firms.registration_operating, "operating", "active")
    registration = np.where(
        bad_registration,
        np.array(["revoked", "deregistered", "suspended", "liquidation"])[rng.integers(0, 4, n)],
        registration,
    )
    abnormal_list = rng.random(n) < expit(-4.4 + 0.9 * np.maximum(-firms.conduct, 0) + 0.3 * distress)
    pboc = (rng.random(n) < expit(-6.6 + 1.2 * distress)) | (max_overdue > 90)

    rows: dict[str, np.ndarray] = {
        "as_of_date": as_of,
        "age": age,
        "revenue": revenue,
        "revenue_prev": prev.get("revenue", np.full(n, np.nan))
        if t > 0
        else np.round(revenue * np.exp(-0.15 + 0.3 * std(n)), -2),
        "net_profit": net_profit,
        "total_assets": total_assets,
        "total_liabilities": total_liabilities,
        "tax_paid": tax_paid,
        "wages_paid": wages_paid,
        "rd_expense": rd_expense,
        "orders_backlog": orders_backlog,
        "gov_subsidies": gov_subsidies,
        "equity_financing_3y": equity_financing_3y,
        "tech_contract_value": tech_contract_value,
        "employees": employees,
        "employees_prev": prev.get("employees", np.full(n, np.nan))
        if t > 0
        else np.maximum(1, np.round(employees * np.exp(-0.08 + 0.15 * std(n)))),
        "rd_staff": rd_staff,
        "degree_staff": degree_staff,
        "invention_patents_valid": patents.copy(),
        "ip_filings_3y": ip_filings_3y,
        "pct_filings": pct_filings,
        "standards_led": standards_led,
        "rd_platform_tier": rd_platform_tier,
        "gov_st_projects": gov_st_projects,
        "national_st_awards": national_st_awards,
        "high_level_talent": high_level_talent,
        "tech_qualification_tier": tier,
        "srdi": srdi,
        "capital_market": capital_market,
        "existing_bank_debt": existing_bank_debt,
        "existing_unsecured_debt": existing_unsecured_debt,
        "max_overdue_days_24m": max_overdue,
        "tax_credit_grade": tax_grade,
        "admin_penalties_2y": admin_penalties,
        "defendant_lawsuits_1y": lawsuits,
        "credit_status": credit_status,
        "registration_status": registration,
        "abnormal_operation_list": abnormal_list,
        "pboc_special_mention_or_npl": pboc,
    }
    # A firm in its first panel year after founding inside the window has no prior year.
    new_firm = entering & (firms.first_year > 0)
    rows["revenue_prev"] = np.where(new_firm, np.nan, rows["revenue_prev"])
    rows["employees_prev"] = np.where(new_firm, np.nan, rows["employees_prev"])
    for name, rate in config.missing.items():
        if name in rows and rate > 0:
            rows[name] = np.where(rng.random(n) < rate, np.nan, rows[name])
    eta = _latent_logit(rows, firms, config, year, std(n), active)
    rows["true_pd"] = expit(eta)
    rows["default_12m"] = (rng.random(n) < rows["true_pd"]).astype(np.float64)
    return rows, patents


def _latent_logit(
    rows: dict[str, np.ndarray],
    firms: _Firms,
    config: GeneratorConfig,
    year: int,
    noise: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    """The default model's log-odds before the year's intercept is solved (see ``docs/data.md``)."""
    model = config.default_model
    c = model.coefficients
    revenue = rows["revenue"]
    assets = rows["total_assets"]
    leverage = rows["total_liabilities"] / np.maximum(assets, 1.0)
    margin = np.where(revenue > 0, rows["net_profit"] / np.maximum(revenue, 1.0), -1.0)
    prev_revenue = np.where(np.isnan(rows["revenue_prev"]), revenue, rows["revenue_prev"])
    growth = np.log((revenue + _REVENUE_FLOOR) / (prev_revenue + _REVENUE_FLOOR))
    rd_intensity = rows["rd_expense"] / np.maximum(revenue, rows["rd_expense"] + 1.0)
    rd_staff_ratio = rows["rd_staff"] / np.maximum(rows["employees"], 1.0)
    innovation = (
        0.5 * (logit(np.clip(rd_intensity, 1e-3, 0.95)) - logit(0.06))
        + 0.45 * (np.log1p(rows["invention_patents_valid"]) - 1.0)
        + 0.3 * (rows["tech_qualification_tier"] - 1.5)
        + 1.5 * (rd_staff_ratio - 0.25)
        + 0.3 * firms.innov
    )
    k = (
        0
        if model.drift_start_year is None or year < model.drift_start_year
        else year - model.drift_start_year + 1
    )
    leverage_mult = (model.shock_leverage_factor if model.shock_year == year else 1.0) * (
        1 + model.drift_leverage_per_year * k
    )
    innovation_mult = max(0.0, 1 + model.drift_innovation_per_year * k)
    overdue = np.nan_to_num(rows["max_overdue_days_24m"], nan=0.0)
    no_file = np.isnan(rows["max_overdue_days_24m"])
    lower = np.array([s.lower for s in config.stages])
    stage = np.digitize(revenue, lower[1:])
    n_stages = lower.size
    grade = rows["tax_credit_grade"]
    status = rows["credit_status"]
    eta = (
        innovation_mult * c["innovation"] * np.tanh(innovation)
        + innovation_mult * c["innovation_loss_making"] * np.tanh(innovation) * (margin < 0)
        + leverage_mult * c["leverage_hinge"] * np.maximum(leverage - 0.65, 0)
        + leverage_mult * c["insolvent"] * np.maximum(leverage - 1.0, 0)
        + c["loss"] * np.sqrt(np.maximum(-margin, 0))
        + c["profit"] * np.clip(margin, 0, 0.2) / 0.2
        + c["decline"] * np.maximum(-growth - 0.1, 0)
        + c["hypergrowth"] * np.maximum(growth - 1.2, 0)
        + c["unsecured_burden"] * np.log1p(4 * rows["existing_unsecured_debt"] / (revenue + _REVENUE_FLOOR))
        + c["young"] * np.exp(-rows["age"] / 2.5)
        + c["seed_stage"] * (stage == 0)
        + c["sapling_stage"] * (stage == 1)
        + c["large_stage"] * (stage >= min(3, n_stages - 1))
        + c["overdue_any"] * (overdue > 0)
        + c["overdue_30"] * (overdue > 30)
        + c["overdue_90"] * (overdue > 90)
        + c["no_credit_file"] * no_file
        + c["stressed_and_overdue"] * ((leverage > 0.8) & (overdue > 0))
        + c["penalties"] * np.minimum(rows["admin_penalties_2y"], 4)
        + c["lawsuits"] * np.minimum(rows["defendant_lawsuits_1y"], 3)
        + c["credit_abnormal"] * (status == "abnormal")
        + c["credit_ordinary_dishonest"] * (status == "ordinary_dishonest")
        + c["credit_serious_dishonest"] * (status == "serious_dishonest")
        + c["tax_a"] * (grade == "A")
        + c["tax_m"] * (grade == "M")
        + c["tax_c"] * (grade == "C")
        + c["tax_d"] * (grade == "D")
        + c["registration_bad"] * ~np.isin(rows["registration_status"], ["active", "operating"])
        + c["pboc_npl"] * rows["pboc_special_mention_or_npl"]
        + c["abnormal_operation"] * rows["abnormal_operation_list"]
        + firms.frailty
        + model.noise_sd * noise
    )
    # The intercept is solved so that the mean PD of the firms hits the base rate; the shock and drift
    # are added after, so they move the year's default rate.
    eta = eta + _solve_intercept(eta[active] if active.any() else eta, model.base_rate)
    sensitivity = np.array([i.shock_sensitivity for i in config.industries])[firms.industry]
    if model.shock_year == year:
        eta = eta + model.shock_logit * sensitivity
    return eta + model.drift_logit_per_year * k


def _solve_intercept(eta: np.ndarray, target: float) -> float:
    """The shift ``a`` with mean(expit(eta + a)) = target (Newton steps, vectorised)."""
    shift = logit(target) - float(np.median(eta))
    for _ in range(50):
        prob = expit(eta + shift)
        gap = prob.mean() - target
        slope = (prob * (1 - prob)).mean()
        step = gap / max(slope, 1e-12)
        shift -= step
        if abs(step) < 1e-10:
            break
    return shift


def _assemble(
    parts: list[dict[str, np.ndarray]],
    codes: np.ndarray,
    names: np.ndarray,
    firms: _Firms,
    config: GeneratorConfig,
    fields: FieldsConfig,
    today: np.datetime64,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    keep = [np.flatnonzero(part["_active"]) for part in parts]
    firm = np.concatenate([part["_firm"][k] for part, k in zip(parts, keep, strict=True)])

    def stack(name: str) -> np.ndarray:
        return np.concatenate([part[name][k] for part, k in zip(parts, keep, strict=True)])

    as_of = np.minimum(stack("as_of_date"), today).astype("datetime64[ns]")
    identity = {
        "firm_id": codes[firm],
        "name": names[firm],
        "zone": np.array([z.id for z in config.zones])[firms.zone][firm],
        "industry_code": np.array([i.code for i in config.industries])[firms.industry][firm],
        "founded_date": firms.founded[firm].astype("datetime64[ns]"),
        "as_of_date": as_of,
    }
    columns: dict[str, object] = {}
    for spec in fields.fields:
        values = identity[spec.name] if spec.name in identity else stack(spec.name)
        if spec.dtype in ("float", "int"):
            columns[spec.name] = np.asarray(values, dtype="float64")
        elif spec.dtype == "bool":
            columns[spec.name] = np.asarray(values, dtype=bool)
        elif spec.dtype == "date":
            columns[spec.name] = values
        else:
            columns[spec.name] = pd.array(np.asarray(values, dtype=object), dtype="str")
    applicants = pd.DataFrame(columns)
    truth = pd.DataFrame(
        {
            "firm_id": applicants["firm_id"],
            "as_of_date": applicants["as_of_date"],
            "true_pd": stack("true_pd"),
        }
    )
    return applicants, truth
