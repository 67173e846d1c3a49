"""The promotion gate: the criteria a challenger must pass before it becomes ``champion``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from credit_points.config import VersionedConfig


class PromotionConfig(VersionedConfig):
    """Thresholds of the promotion gate (``configs/promotion.yaml``)."""

    kind: Literal["promotion"] = "promotion"
    min_oot_auc: float = Field(ge=0.5, le=1.0)
    auc_drop_alpha: float = Field(gt=0.0, lt=0.5)
    max_score_psi: float = Field(gt=0.0)
    forbid_red_grades: bool = True
    min_oot_defaults: int = Field(default=20, ge=1)


@dataclass(frozen=True)
class Criterion:
    """One gate criterion and its verdict."""

    name: str
    passed: bool
    value: float | str
    threshold: float | str
    detail: str


@dataclass
class GateResult:
    """Every criterion, and whether all passed."""

    criteria: list[Criterion] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.criteria)

    @property
    def failures(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.__dict__ for c in self.criteria])


def population_stability(expected_props: np.ndarray, actual_props: np.ndarray, eps: float = 1e-6) -> float:
    """PSI = Σ (a − e) · ln(a / e) over bins, with empty bins floored at ``eps``.

    Examples:
        >>> round(population_stability(np.array([0.5, 0.5]), np.array([0.5, 0.5])), 6)
        0.0
    """
    e = np.clip(np.asarray(expected_props, dtype=float), eps, None)
    a = np.clip(np.asarray(actual_props, dtype=float), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def score_distribution(raw_score: np.ndarray, n_bins: int = 10) -> dict[str, list[float]]:
    """Decile edges of a score and the share in each bin (stored in the model card for later PSI)."""
    edges = np.unique(np.quantile(np.asarray(raw_score, dtype=float), np.linspace(0, 1, n_bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, raw_score, side="left"), minlength=len(edges) + 1)
    return {"edges": edges.tolist(), "proportions": (counts / counts.sum()).tolist()}


def score_psi(reference: dict[str, list[float]], raw_score: np.ndarray) -> float:
    """PSI of new scores against a stored reference distribution."""
    edges = np.asarray(reference["edges"], dtype=float)
    counts = np.bincount(np.searchsorted(edges, raw_score, side="left"), minlength=len(edges) + 1)
    return population_stability(np.asarray(reference["proportions"]), counts / max(counts.sum(), 1))


def evaluate_gate(
    config: PromotionConfig,
    *,
    oot_auc: float,
    n_defaults: int,
    red_grades: list[str],
    psi: float,
    auc_drop_p_value: float | None,
    champion_auc: float | None,
    rows: str = "the out-of-time cohort",
) -> GateResult:
    """Apply every criterion; the caller computed the figures on one out-of-time cohort, named by ``rows``
    (e.g. ``2,038 rows 2024-01-01..2024-12-31, firms unseen in training``)."""
    result = GateResult()
    add = result.criteria.append
    add(
        Criterion(
            "enough_defaults",
            n_defaults >= config.min_oot_defaults,
            n_defaults,
            config.min_oot_defaults,
            f"{n_defaults} defaults in {rows}",
        )
    )
    add(
        Criterion(
            "oot_auc_floor",
            oot_auc >= config.min_oot_auc,
            round(oot_auc, 4),
            config.min_oot_auc,
            f"OOT AUC {oot_auc:.4f} on {rows} vs floor {config.min_oot_auc}",
        )
    )
    if auc_drop_p_value is None or champion_auc is None:
        add(
            Criterion("no_significant_auc_drop", True, "no champion", config.auc_drop_alpha, "first champion")
        )
    else:
        add(
            Criterion(
                "no_significant_auc_drop",
                auc_drop_p_value >= config.auc_drop_alpha,
                round(auc_drop_p_value, 6),
                config.auc_drop_alpha,
                f"challenger AUC {oot_auc:.4f} vs champion {champion_auc:.4f} on the same rows; "
                f"one-sided DeLong p = {auc_drop_p_value:.4g}",
            )
        )
    if config.forbid_red_grades:
        add(
            Criterion(
                "no_red_grade",
                not red_grades,
                ",".join(red_grades) or "none",
                "none",
                "grades whose observed default rate is significantly above the predicted PD",
            )
        )
    add(
        Criterion(
            "score_psi",
            psi < config.max_score_psi,
            round(psi, 4),
            config.max_score_psi,
            f"score PSI training → out-of-time {psi:.4f}",
        )
    )
    return result
