"""Monitoring from production itself: what a model version decided in a window, against its training.

Reads the audit store (the decisions one model version made, with their canonical inputs and the points
and PD as decided — the same reader as the training table) and compares them with the monitoring
reference the version's model card keeps (``pd_model.validation.monitoring_reference``): volume and
decision mix, the PSI of the PD and the CSI of every feature, each judged by the customary band **and**
its sampling noise (``psi_p_value``), and the grade mix. Thresholds live in ``configs/monitoring.yaml``.
A window without decisions is reported as such — not an error, and not green.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from credit_points.audit.store import AuditStore
from credit_points.config import VersionedConfig
from credit_points.engine import DecisionEngine

STATUSES = ("green", "amber", "red")


class MonitoringConfig(VersionedConfig):
    """When monitoring raises an alarm (``configs/monitoring.yaml``): a stability index must pass its band
    **and** be significant against its sampling noise."""

    kind: Literal["monitoring"] = "monitoring"
    psi_amber: float = Field(default=0.10, gt=0.0)
    psi_red: float = Field(default=0.25, gt=0.0)
    p_amber: float = Field(default=0.05, gt=0.0, lt=1.0)
    p_red: float = Field(default=0.01, gt=0.0, lt=1.0)


def load_monitoring_config(path: str | Path | None = None) -> MonitoringConfig:
    """``configs/monitoring.yaml``, or the file at ``path``."""
    from credit_points.config import CONFIG_DIR, load_config

    return load_config(path or CONFIG_DIR / "monitoring.yaml", MonitoringConfig)


@dataclass
class MonitorResult:
    """The figures of one window, the alarms they raise, and the overall status."""

    model_version: str
    window: tuple[str | None, str | None]
    decisions: int
    status: str
    reasons: list[str] = field(default_factory=list)
    decision_mix: dict[str, float] = field(default_factory=dict)
    stability: list[dict[str, Any]] = field(default_factory=list)
    grades: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "window": list(self.window),
            "decisions": self.decisions,
            "status": self.status,
            "reasons": self.reasons,
            "decision_mix": self.decision_mix,
            "stability": self.stability,
            "grades": self.grades,
        }

    @property
    def exit_code(self) -> int:
        """0 green, 1 amber (or nothing to judge), 2 red: what a scheduler acts on."""
        return {"green": 0, "red": 2}.get(self.status, 1)


def _judge(name: str, value: float, p_value: float, t: MonitoringConfig) -> tuple[str, str | None]:
    """The status of one stability index, and the reason when it is not green."""
    if value >= t.psi_red and p_value < t.p_red:
        return "red", f"{name} {value:.3f} ≥ {t.psi_red} and p {p_value:.2g} < {t.p_red}"
    if value >= t.psi_amber and p_value < t.p_amber:
        return "amber", f"{name} {value:.3f} ≥ {t.psi_amber} and p {p_value:.2g} < {t.p_amber}"
    return "green", None


def monitor_window(
    store: AuditStore,
    engine: DecisionEngine,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    thresholds: MonitoringConfig | None = None,
) -> MonitorResult:
    """The figures of the decisions ``engine``'s model version made in the window (decision dates)."""
    from credit_points.pd_model.features import build_features
    from credit_points.pd_model.validation import psi_against, psi_p_value
    from credit_points.pipelines.outcomes import build_dataset

    t = thresholds or load_monitoring_config()
    version = str(engine.identity.version)
    window = (since.isoformat() if since else None, until.isoformat() if until else None)
    frame = build_dataset(store, since=since, until=until, model_version=version)
    if not len(frame):
        return MonitorResult(
            version, window, 0, "no decisions", [f"no decisions by version {version} in the window"]
        )
    reference = (engine.model_card or {}).get("monitoring_reference")
    result = MonitorResult(version, window, len(frame), "green")
    mix = frame["decision"].value_counts(normalize=True)
    result.decision_mix = {str(k): float(v) for k, v in mix.items()}
    if reference is None:
        result.status = "no reference"
        result.reasons.append(f"version {version} was trained before model cards kept a monitoring reference")
        return result
    m, n = len(frame), int(reference["rows"])
    values = {"prob_default": frame["prob_default_decided"].to_numpy(dtype="float64")}
    points = {
        c: c.removesuffix("_decided")
        for c in frame.columns
        if c.startswith("points_") and c.endswith("_decided")
    }
    typed = frame.rename(columns=points).assign(stage=frame["points_stage"])
    for spec in engine.fields.fields:  # the table keeps dates as YYYY-MM-DD text
        if spec.dtype == "date" and spec.name in typed.columns:
            typed[spec.name] = pd.to_datetime(typed[spec.name])
    features = build_features(typed, engine.pd_config)
    values.update({c: features[c].to_numpy(dtype="float64") for c in features.columns})
    statuses = []
    for name, current in values.items():
        ref = reference["prob_default"] if name == "prob_default" else reference["features"].get(name)
        if ref is None:
            continue
        index = psi_against(ref, current)
        bins = int(np.sum(np.asarray(ref["shares"]) > 0))
        p_value = psi_p_value(index, n, m, bins)
        status, reason = _judge(f"{'PSI' if name == 'prob_default' else 'CSI'} {name}", index, p_value, t)
        statuses.append(status)
        if reason:
            result.reasons.append(reason)
        result.stability.append(
            {"name": name, "index": index, "p_value": p_value, "bins": bins, "status": status}
        )
    observed = frame["grade_decided"].astype(str).value_counts(normalize=True)
    result.grades = {
        g: {"training": float(reference["grades"].get(g, 0.0)), "window": float(observed.get(g, 0.0))}
        for g in sorted(set(reference["grades"]) | set(observed.index))
    }
    result.status = "red" if "red" in statuses else "amber" if "amber" in statuses else "green"
    return result
