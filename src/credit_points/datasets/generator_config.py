"""The synthetic generator's parameters (``configs/generator.yaml``): stages, zones, industries, default model."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from credit_points.config import CONFIG_DIR, StrictModel, VersionedConfig, load_config

Share = Annotated[float, Field(ge=0.0, le=1.0)]

COEFFICIENTS = (
    "innovation",
    "innovation_loss_making",
    "leverage_hinge",
    "insolvent",
    "loss",
    "profit",
    "decline",
    "hypergrowth",
    "unsecured_burden",
    "young",
    "seed_stage",
    "sapling_stage",
    "large_stage",
    "overdue_any",
    "overdue_30",
    "overdue_90",
    "no_credit_file",
    "stressed_and_overdue",
    "penalties",
    "lawsuits",
    "credit_abnormal",
    "credit_ordinary_dishonest",
    "credit_serious_dishonest",
    "tax_a",
    "tax_m",
    "tax_c",
    "tax_d",
    "registration_bad",
    "pboc_npl",
    "abnormal_operation",
)


class StageBand(StrictModel):
    """A revenue band: lower bound (yuan, inclusive) and its share of incumbent firms."""

    id: str
    lower: float = Field(ge=0)
    share: Share


class ZoneSpec(StrictModel):
    """A zone: id, Chinese name, city (used in enterprise names) and GB/T 2260 division code."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    city_zh: str
    division: str = Field(pattern=r"^[0-9]{6}$")
    weight: float = Field(gt=0)


class IndustrySpec(StrictModel):
    """A GB/T 4754 industry with its innovation profile and exposure to the shock."""

    code: str = Field(pattern=r"^[A-T][0-9]{2,4}$")
    label_zh: str
    weight: float = Field(gt=0)
    rd_intensity: float = Field(gt=0, lt=1)
    rd_staff_share: float = Field(gt=0, lt=1)
    patent_rate: float = Field(ge=0)
    shock_sensitivity: float = Field(ge=0)
    words_zh: tuple[str, ...] = Field(min_length=1)


class DefaultModelSpec(StrictModel):
    """The latent default model: target rate, shock, drift, unobserved effects and coefficients."""

    base_rate: float = Field(gt=0, lt=0.5)
    shock_year: int | None = None
    shock_logit: float = 0.0
    shock_leverage_factor: float = Field(default=1.0, ge=0)
    drift_start_year: int | None = None
    drift_logit_per_year: float = 0.0
    drift_leverage_per_year: float = 0.0
    drift_innovation_per_year: float = 0.0
    frailty_sd: float = Field(ge=0)
    noise_sd: float = Field(ge=0)
    coefficients: dict[str, float]

    @model_validator(mode="after")
    def _all_coefficients(self) -> DefaultModelSpec:
        missing = [c for c in COEFFICIENTS if c not in self.coefficients]
        unknown = sorted(set(self.coefficients) - set(COEFFICIENTS))
        if missing or unknown:
            raise ValueError(f"coefficients: missing {missing}, unknown {unknown}")
        return self


class LenderViewSpec(StrictModel):
    """What a lender sees of the panel: its historical policy, take-up, and how late outcomes arrive.

    Attributes:
        held_out_years: the panel's last years kept out of the historical book ("the future" for
            simulations of decisions made from now on).
        previous_model_noise_sd: the bank's previous model: the true PD's log-odds plus normal noise of
            this size (0: the bank knew the true PD; larger: weaker selection on risk).
        pd_cutoff: the historical policy approves a firm whose estimated PD is below this.
        take_up: share of approved firms that draw the loan (booked).
        restructured_share: share of defaulted loans that end restructured rather than written off.
        observed_until: the last date the bank has observed (default: the end of the panel's last year).
    """

    held_out_years: int = Field(default=2, ge=0)
    previous_model_noise_sd: float = Field(default=0.6, ge=0)
    pd_cutoff: float = Field(default=0.05, gt=0, lt=1)
    take_up: float = Field(default=0.85, gt=0, le=1)
    restructured_share: Share = 0.2
    observed_until: dt.date | None = None


class GeneratorConfig(VersionedConfig):
    """Everything the synthetic panel is drawn from."""

    kind: Literal["generator"] = "generator"
    stages: tuple[StageBand, ...] = Field(min_length=2)
    top_band_upper: float = Field(gt=0)
    pre_revenue_share: Share
    zones: tuple[ZoneSpec, ...] = Field(min_length=1)
    industries: tuple[IndustrySpec, ...] = Field(min_length=1)
    brand_chars_zh: str = Field(min_length=10)
    entry_share: Share
    incumbent_age_mean: float = Field(gt=0)
    exit_rate: Share
    exit_after_default: Share
    missing: dict[str, Share]
    no_credit_file_share: Share
    default_model: DefaultModelSpec
    lender: LenderViewSpec = Field(default_factory=LenderViewSpec)

    @field_validator("stages")
    @classmethod
    def _bands_ordered(cls, stages: tuple[StageBand, ...]) -> tuple[StageBand, ...]:
        lowers = [s.lower for s in stages]
        if lowers[0] != 0 or any(b <= a for a, b in zip(lowers, lowers[1:], strict=False)):
            raise ValueError("lower bounds must start at 0 and increase")
        if abs(sum(s.share for s in stages) - 1.0) > 1e-6:
            raise ValueError("shares must sum to 1")
        return stages

    @model_validator(mode="after")
    def _top_band(self) -> GeneratorConfig:
        if self.top_band_upper <= self.stages[-1].lower:
            raise ValueError("top_band_upper must exceed the last stage's lower bound")
        return self


def load_generator_config(path: str | None = None) -> GeneratorConfig:
    """The generator's parameters (default ``configs/generator.yaml``)."""
    return load_config(path or CONFIG_DIR / "generator.yaml", GeneratorConfig)
