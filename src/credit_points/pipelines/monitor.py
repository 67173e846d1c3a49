"""Monitoring from production itself: what a model version decided in a window, against its training
and, as loans mature, against what happened.

Reads the audit store (the decisions one model version made, with their canonical inputs, the points, PD
and offer as decided, the decision in force and the matured outcome — the same reader as the training
table) and compares them with the monitoring reference the version's model card keeps
(``pd_model.validation.monitoring_reference``): volume and decision mix, limits and expected loss by stage
and product, the override analysis, the PSI of the PD and the CSI of every feature, each judged by the
customary band **and** its sampling noise (``psi_p_value``), the grade mix, and the back-test of matured
loans with the validation pack. Thresholds live in ``configs/monitoring.yaml``. A window without decisions
or without matured loans is reported as such — not an error, and not green.
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
    book: list[dict[str, Any]] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    backtest: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    shadow: list[dict[str, Any]] = field(default_factory=list)

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
            "book": self.book,
            "overrides": self.overrides,
            "backtest": self.backtest,
            "thresholds": self.thresholds,
            "shadow": self.shadow,
        }

    def metrics(self) -> dict[str, float]:
        """The window's headline figures, flat and numeric (what the MLflow run logs)."""
        out: dict[str, float] = {"decisions": float(self.decisions), "status_code": float(self.exit_code)}
        out.update({f"mix_{k}": v for k, v in self.decision_mix.items()})
        for row in self.stability:
            prefix = "psi" if row["name"] == "prob_default" else f"csi_{row['name']}"
            out[prefix] = row["index"]
            out[f"{prefix}_p_value"] = row["p_value"]
        if self.overrides:
            out["override_rate"] = self.overrides["rate"]
        for shadow in self.shadow:
            out[f"shadow_v{shadow['model_version']}_agreement"] = shadow["agreement"]
        for name in ("n", "defaults", "default_rate", "mean_pd", "auc", "auc_ci_low", "auc_ci_high", "ece",
                     "hl_p_value", "grades_red", "grades_amber"):  # fmt: skip
            value = self.backtest.get("metrics", {}).get(name)
            if value is not None and np.isfinite(value):
                out[f"backtest_{name}"] = float(value)
        return out

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
    """The figures of the decisions ``engine``'s model version made in the window (decision dates).

    Volume and decision mix; limits and expected loss by stage and product; the override analysis; the
    back-test of the window's matured loans; PSI and CSI against the version's monitoring reference, each
    judged by band and significance; the grade mix. The status is the worst of the back-test and the
    indices: ``no decisions`` for an empty window, ``no reference`` for a version without a monitoring
    reference (unless its back-test is amber or red).
    """
    from credit_points.audit.outcomes import OutcomeStore
    from credit_points.pipelines.outcomes import build_dataset

    t = thresholds or load_monitoring_config()
    version = str(engine.identity.version)
    window = (since.isoformat() if since else None, until.isoformat() if until else None)
    frame = build_dataset(store, since=since, until=until, model_version=version)
    result = MonitorResult(version, window, len(frame), "green", thresholds=t.model_dump(mode="json"))
    if not len(frame):
        result.status = "no decisions"
        result.reasons.append(f"no decisions by version {version} in the window")
        return result
    mix = frame["decision"].value_counts(normalize=True)
    result.decision_mix = {str(k): float(v) for k, v in mix.items()}
    window_ids = set(frame["decision_id"])
    overrides = [o for o in OutcomeStore(store).overrides() if o["parent_id"] in window_ids]
    frame = frame.assign(limit_in_force=_limits_in_force(frame, overrides))
    result.book = book_table(frame)
    result.overrides = override_analysis(frame, overrides)
    result.backtest = backtest(frame, engine)
    result.shadow = shadow_comparison(frame, store)
    statuses = [result.backtest.get("status", "green")]
    result.reasons.extend(result.backtest.get("reasons", []))
    reference = (engine.model_card or {}).get("monitoring_reference")
    if reference is None:  # nothing to compare the inputs with; the back-test still speaks
        result.status = next((s for s in ("red", "amber") if s in statuses), "no reference")
        result.reasons.insert(
            0, f"version {version} was trained before model cards kept a monitoring reference"
        )
        return result
    stability, reasons = stability_table(frame, engine, reference, t)
    result.stability = stability
    result.reasons[:0] = reasons
    statuses.extend(row["status"] for row in stability)
    observed = frame["grade_decided"].astype(str).value_counts(normalize=True)
    result.grades = {
        g: {"training": float(reference["grades"].get(g, 0.0)), "window": float(observed.get(g, 0.0))}
        for g in sorted(set(reference["grades"]) | set(observed.index))
    }
    result.status = "red" if "red" in statuses else "amber" if "amber" in statuses else "green"
    return result


def stability_table(
    frame: pd.DataFrame, engine: DecisionEngine, reference: dict[str, Any], t: MonitoringConfig
) -> tuple[list[dict[str, Any]], list[str]]:
    """PSI of the PD and CSI of every feature against the reference, each judged by band and noise."""
    from credit_points.pd_model.features import build_features
    from credit_points.pd_model.validation import psi_against, psi_p_value

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
    rows, reasons = [], []
    for name, current in values.items():
        ref = reference["prob_default"] if name == "prob_default" else reference["features"].get(name)
        if ref is None:
            continue
        index = psi_against(ref, current)
        bins = int(np.sum(np.asarray(ref["shares"]) > 0))
        p_value = psi_p_value(index, n, m, bins)
        status, reason = _judge(f"{'PSI' if name == 'prob_default' else 'CSI'} {name}", index, p_value, t)
        if reason:
            reasons.append(reason)
        rows.append({"name": name, "index": index, "p_value": p_value, "bins": bins, "status": status})
    return rows, reasons


def _limits_in_force(frame: pd.DataFrame, overrides: list[dict[str, Any]]) -> np.ndarray:
    """Each decision's limit after its officers' overrides (in chain order); 0 unless approved in force."""
    limits = pd.Series(frame["limit_decided"].fillna(0.0).to_numpy(), index=frame["decision_id"].to_numpy())
    for o in overrides:
        values = o["new_values"]
        if isinstance(values.get("limit"), int | float) and not isinstance(values.get("limit"), bool):
            limits[o["parent_id"]] = float(values["limit"])
        if values.get("decision") == "decline":
            limits[o["parent_id"]] = 0.0
    return np.where(frame["decision"].to_numpy() == "approve", limits.to_numpy(), 0.0)


def book_table(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per stage and product: decisions, approve / refer / decline in force, the approved limits in force
    and the expected loss the model's decisions carried (as decided, summed over its approvals)."""
    data = pd.DataFrame(
        {
            "stage": frame["points_stage"].fillna("—").astype(str),
            "product": frame["product_decided"].fillna("—").replace("", "—").astype(str),
            "approve": frame["decision"].eq("approve"),
            "refer": frame["decision"].eq("refer"),
            "decline": frame["decision"].eq("decline"),
            "limit_approved": frame["limit_in_force"],
            "expected_loss": np.where(
                frame["decision_as_decided"].eq("approve"), frame["expected_loss_decided"].fillna(0.0), 0.0
            ),
        }
    )
    grouped = data.groupby(["stage", "product"], sort=True)
    table = grouped[["approve", "refer", "decline", "limit_approved", "expected_loss"]].sum()
    table.insert(0, "decisions", grouped.size())
    rows = []
    for (stage, product), row in table.iterrows():
        rows.append(
            {"stage": stage, "product": product, "decisions": int(row["decisions"]),
             **{k: int(row[k]) for k in ("approve", "refer", "decline")},
             "limit_approved": float(row["limit_approved"]), "expected_loss": float(row["expected_loss"])}
        )  # fmt: skip
    return rows


def override_analysis(frame: pd.DataFrame, overrides: list[dict[str, Any]]) -> dict[str, Any]:
    """How often officers overrode the model, why and who; and, where outcomes matured, how the loans they
    overrode performed against the ones the model decided (default rate beside the PD the model gave)."""
    overridden = frame["decision_id"].isin({o["parent_id"] for o in overrides})
    by_reason = pd.Series([o["reason"] or "—" for o in overrides], dtype="object").value_counts()
    by_officer = pd.Series([o["officer"] or "—" for o in overrides], dtype="object").value_counts()
    changed = frame.loc[overridden, ["decision_as_decided", "decision"]].value_counts()
    out: dict[str, Any] = {
        "overrides": len(overrides),
        "decisions_overridden": int(overridden.sum()),
        "rate": float(overridden.mean()),
        "by_reason": [{"reason": str(k), "n": int(v)} for k, v in by_reason.items()],
        "by_officer": [{"officer": str(k), "n": int(v)} for k, v in by_officer.items()],
        "changes": [{"from": str(a), "to": str(b), "n": int(v)} for (a, b), v in changed.items()],
    }
    matured = frame["outcome"].eq("matured")
    performance: list[dict[str, Any]] = []
    for label, mask in (("model", ~overridden), ("override", overridden)):
        part = frame[mask & matured]
        defaults = int(part["default_12m"].astype(int).sum()) if len(part) else 0
        performance.append(
            {"group": label, "matured": len(part), "defaults": defaults,
             "default_rate": defaults / len(part) if len(part) else None,
             "mean_pd": float(part["prob_default_decided"].mean()) if len(part) else None}
        )  # fmt: skip
    out["performance"] = performance
    if all(g["matured"] for g in performance):
        from scipy.stats import fisher_exact

        table = [[g["defaults"], g["matured"] - g["defaults"]] for g in performance]
        out["performance_p_value"] = float(fisher_exact(table).pvalue)
    return out


def shadow_comparison(
    frame: pd.DataFrame, store: AuditStore, *, shadow_version: str | None = None
) -> list[dict[str, Any]]:
    """How each shadow model (or ``shadow_version``) would have decided the window's applicants, against the
    model that decided them (its decisions as decided, before overrides).

    Per shadow version: decisions compared and shadow errors, the agreement rate, the champion × shadow
    decision table, swap-ins (the shadow approves what the champion did not) and swap-outs, the approved
    limits of each and their mean difference where both approve, mean PDs, and — on the window's matured
    loans (booked by the champion, so a biased sample) — each model's AUC on the same loans.
    """
    from credit_points.audit.shadow import SHADOW_PARTS, ShadowStore

    shadows = ShadowStore(store)
    shadows.create_schema()
    rows = shadows.frame(shadow_version)
    rows = rows[rows["decision_id"].isin(set(frame["decision_id"]))]
    out = []
    for version, part in rows.groupby("model_version", sort=True):
        theirs = part[["decision_id", *SHADOW_PARTS, "error"]].rename(
            columns={c: f"{c}_shadow" for c in SHADOW_PARTS}
        )
        joined = frame.merge(theirs, on="decision_id", how="inner", validate="one_to_one")
        ok = joined[joined["error"].isna()]
        champion, challenger = ok["decision_as_decided"].astype(str), ok["decision_shadow"].astype(str)
        table = pd.crosstab(champion, challenger)
        both = (champion == "approve") & (challenger == "approve")
        champ_limit = ok["limit_decided"].fillna(0.0).where(champion == "approve", 0.0)
        shadow_limit = ok["limit_shadow"].fillna(0.0).where(challenger == "approve", 0.0)
        entry: dict[str, Any] = {
            "model_name": str(part["model_name"].iloc[0]),
            "model_version": str(version),
            "compared": len(ok),
            "errors": int(joined["error"].notna().sum()),
            "agreement": float((champion == challenger).mean()) if len(ok) else float("nan"),
            "table": [{"champion": str(a), "shadow": str(b), "n": int(table.loc[a, b])}
                      for a in table.index for b in table.columns if table.loc[a, b]],  # fmt: skip
            "swap_in": int(((challenger == "approve") & (champion != "approve")).sum()),
            "swap_out": int(((champion == "approve") & (challenger != "approve")).sum()),
            "limit_champion": float(champ_limit.sum()),
            "limit_shadow": float(shadow_limit.sum()),
            "limit_delta_mean": float((ok["limit_shadow"] - ok["limit_decided"])[both].mean()) if both.any() else None,
            "mean_pd_champion": float(ok["prob_default_decided"].mean()) if len(ok) else None,
            "mean_pd_shadow": float(ok["prob_default_shadow"].mean()) if len(ok) else None,
        }  # fmt: skip
        matured = ok[ok["outcome"].eq("matured")]
        y = matured["default_12m"].astype(int).to_numpy() if len(matured) else np.array([], dtype=int)
        if len(y) and 0 < y.sum() < len(y):
            from credit_points.pd_model.delong import delong_test

            test = delong_test(
                y, matured["prob_default_shadow"].to_numpy(), matured["prob_default_decided"].to_numpy()
            )
            entry.update(matured=len(y), auc_shadow=float(test.auc_a), auc_champion=float(test.auc_b),
                         auc_p_value_shadow_worse=float(test.p_value_a_worse))  # fmt: skip
        else:
            entry["matured"] = len(y)
        out.append(entry)
    return out


def backtest(frame: pd.DataFrame, engine: DecisionEngine) -> dict[str, Any]:
    """Observed against predicted default rate on the window's matured loans, with the validation pack.

    For the whole book of matured loans and per grade, the pack's one-sided binomial and Jeffreys tests
    and traffic light (:func:`~credit_points.pd_model.validation.default_rate_test`: a red light makes the
    window red, an amber one amber); the AUC with its DeLong interval, the calibration table, ECE and
    Hosmer–Lemeshow, shown and not judged: booked loans are the approved ones only, whose narrow PD range
    makes an AUC lower than the development one without anything having changed. No matured loan yet:
    said so.
    """
    from credit_points.exceptions import DataValidationError
    from credit_points.pd_model.validation import (
        calibration_table,
        default_rate_test,
        grade_table,
        validation_pack,
    )

    matured = frame[frame["outcome"].eq("matured")]
    counts = {
        "matured": len(matured),
        "booked_not_matured": int(frame["outcome"].eq("booked_not_matured").sum()),
    }
    if not len(matured):
        return {**counts, "status": "no matured outcomes",
                "note": "no loan decided in the window has reached the end of its 12-month window yet"}  # fmt: skip
    y = matured["default_12m"].astype(int).to_numpy()
    p = matured["prob_default_decided"].to_numpy(dtype="float64")
    grades = matured["grade_decided"].astype(str).to_numpy()
    scale, cfg = engine.pd_config.master_scale, engine.pd_config.validation
    try:
        pack = validation_pack(y, p, grades, scale, config=cfg)
    except DataValidationError:  # one class only: no AUC, the grades and calibration still say something
        table = grade_table(y, p, grades, scale, amber_p=cfg.amber_p, red_p=cfg.red_p)
        pack = {
            "metrics": {"n": float(len(y)), "defaults": float(y.sum()), "default_rate": float(y.mean()),
                        "mean_pd": float(p.mean()),
                        "grades_red": float((table["traffic_light"] == "red").sum()),
                        "grades_amber": float((table["traffic_light"] == "amber").sum())},
            "grade_table": table,
            "calibration_table": calibration_table(y, p, cfg.ece_bins),
        }  # fmt: skip
    portfolio = default_rate_test(y, p, amber_p=cfg.amber_p, red_p=cfg.red_p)
    reasons, status = [], "green"
    groups = [("portfolio", portfolio)] + [
        (f"grade {row['grade']}", row) for row in pack["grade_table"].to_dict("records")
    ]
    for name, row in groups:
        if row["traffic_light"] in ("red", "amber"):
            limit = cfg.red_p if row["traffic_light"] == "red" else cfg.amber_p
            reasons.append(
                f"back-test {name}: observed {row['observed_rate']:.2%} against predicted "
                f"{row['mean_pd']:.2%} ({row['defaults']} of {row['n']}), Jeffreys p {row['jeffreys_p']:.2g} "
                f"< {limit}"
            )
            status = "red" if row["traffic_light"] == "red" or status == "red" else "amber"
    return {
        **counts,
        "status": status,
        "reasons": reasons,
        "metrics": {k: _plain(v) for k, v in pack["metrics"].items()},
        "portfolio": {k: _plain(v) for k, v in portfolio.items()},
        "grade_table": _records(pack["grade_table"]),
        "calibration_table": _records(pack["calibration_table"]),
    }


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy numbers as Python ones, NaN as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in table.to_dict("records")]


def log_monitoring_run(
    result: MonitorResult, engine: DecisionEngine, files: list[Path], settings: Any = None
) -> str:
    """Record the window as an MLflow run linked to the model version; returns the run id.

    The run (tag ``run_kind`` = ``monitoring``, the version's name, number and training run) holds the
    headline figures as metrics — linked to the version's logged model where MLflow 3 keeps one — and
    ``files`` (the figures and the reports) as artifacts; the model version gets the tags
    ``monitoring.last_run``, ``monitoring.last_status`` and ``monitoring.last_window``.
    """
    import mlflow
    from mlflow import MlflowClient

    from credit_points.tracking.setup import configure_tracking

    configure_tracking(settings)
    identity = engine.identity
    client = MlflowClient()
    try:
        registered = client.get_model_version(identity.name, identity.version)
    except mlflow.exceptions.MlflowException:
        registered = None  # an unregistered copy: the run still names it
    model_id = getattr(registered, "model_id", None)
    window = f"{result.window[0] or '…'}..{result.window[1] or '…'}"
    tags = {
        "run_kind": "monitoring",
        "model_name": identity.name,
        "model_version": identity.version,
        "model_run_id": identity.run_id,
        "monitoring_status": result.status,
        "monitoring_window": window,
    }
    with mlflow.start_run(run_name=f"monitor {identity.name} v{identity.version} {window}", tags=tags) as run:
        mlflow.log_metrics(result.metrics(), model_id=model_id)
        for path in files:
            mlflow.log_artifact(str(path))
    if registered is not None:
        for key, value in (
            ("last_run", run.info.run_id),
            ("last_status", result.status),
            ("last_window", window),
        ):
            client.set_model_version_tag(identity.name, identity.version, f"monitoring.{key}", value)
    return str(run.info.run_id)
