"""The ``train`` job: data → point-in-time points → PD model (out of time) → bundle → MLflow run + registry.

ingest → split → train → evaluate → register → alias ``challenger``. The promotion gate is a separate job.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from credit_points.bundle import golden_frame, library_versions, save_bundle
from credit_points.config import Settings, get_settings
from credit_points.datasets.fields import load_fields
from credit_points.engine import DecisionEngine, ModelIdentity
from credit_points.exceptions import DataValidationError
from credit_points.explain.config import load_reason_codes
from credit_points.pd_model.calibration import sigmoid
from credit_points.pd_model.config import PDModelConfig, load_pd_config
from credit_points.pd_model.master_scale import apply_pd_floor, assign_grade
from credit_points.pd_model.oot import oot_cohort, rows_label
from credit_points.pd_model.reject_inference import with_reject_inference
from credit_points.pd_model.training import FitResult, fit_pd_model
from credit_points.pd_model.validation import monitoring_reference
from credit_points.pipelines.common import (
    LoadedData,
    load_applicants,
    points_as_decided,
    score_points_by_cohort,
)
from credit_points.points.config import PointsConfig, load_points_config
from credit_points.policy.config import load_policy
from credit_points.reports.validation import log_validation_report
from credit_points.tracking.gate import score_distribution

#: reject inference figures logged as run metrics (the rest of its record are parameters)
_RI_FIGURES = (
    "train_booked_rows",
    "train_unbooked_rows",
    "calib_booked_rows",
    "calib_unbooked_rows",
    "train_inferred_default_rate",
    "train_max_weight",
    "train_effective_rows",
)


def training_frame(
    loaded: LoadedData, points_cfg: PointsConfig, console: Console
) -> tuple[pd.DataFrame, Any, np.ndarray]:
    """The validated rows joined with their points (per year; as decided where the decision used
    ``points_cfg``), the reference population a new model version pins (the latest year's), and the rows
    whose points are as decided."""
    frame = loaded.frame.reset_index(drop=True)
    points, reference = score_points_by_cohort(frame, points_cfg)
    as_decided = points_as_decided(points, loaded.as_decided, points_cfg)
    if loaded.as_decided is not None:
        console.print(
            f"points as decided for {int(as_decided.sum()):,} row(s); recomputed for "
            f"{int((~as_decided).sum()):,} (historical decisions, or decided under another points configuration)"
        )
    return pd.concat([frame, points], axis=1), reference, as_decided


def _self_check(
    joined: pd.DataFrame, loaded: LoadedData, config: PDModelConfig, method: str, console: Console
) -> dict[str, Any]:
    """Reject inference checked against ``none`` on this data (a stricter policy's slice hidden); warns
    when the method does not beat ``none``. A table without the scores the bank decided with is not
    checked (said so)."""
    from credit_points.pipelines.reject_check import check_reject_inference

    console.print(f"checking {method} against none: each year's riskiest 20% of booked loans hidden")
    try:
        check = check_reject_inference(joined, loaded.as_decided, config, methods=(method,))
    except DataValidationError as exc:
        console.print(f"[yellow]reject inference not checked: {exc}[/yellow]")
        return {"checked": False, "reason": str(exc)}
    rows = check.rows
    console.print(
        f"  test-year AUC: none {rows['none']['auc']:.4f}, {method} {rows[method]['auc']:.4f}, "
        f"hidden outcomes visible {rows['full']['auc']:.4f}"
    )
    beats = check.beats_none(method)
    if not beats:
        console.print(
            f"[yellow]warning: {method} does not beat none on this data's self-check "
            "(`credit-points reject-inference check`); consider --reject-inference none[/yellow]"
        )
    return {"checked": True, "beats_none": beats, **check.as_dict()}


MODEL_LIMITATIONS = (
    "Trained on the cohorts listed; validated on the latest cohort only (out of time). "
    "The innovation points supplement, and do not replace, the bank's own credit assessment. "
    "PDs below the regulatory floor are floored. Performance on zones, industries or years unlike the "
    "training data is unknown until monitored (score PSI and CSI)."
)


@dataclass
class TrainOutcome:
    """What a training run produced."""

    run_id: str
    model_name: str
    version: str
    artifact_hash: str
    metrics: dict[str, float]
    model_card: dict[str, Any]
    bad_rows: int


def _window(frame: pd.DataFrame, idx: np.ndarray) -> list[str]:
    dates = frame["as_of_date"].iloc[idx]
    return [dates.min().date().isoformat(), dates.max().date().isoformat()]


def with_served_points(rows: pd.DataFrame, engine: DecisionEngine) -> pd.DataFrame:
    """``rows`` (applicant record + points columns) with their points scored as ``engine`` serves them:
    against the reference population it pins, in place of the points they carried."""
    points = engine.score_points(rows)
    return pd.concat([rows.drop(columns=points.columns, errors="ignore"), points], axis=1)


def served_training_rows(
    frame: pd.DataFrame, fit: FitResult, engine: DecisionEngine
) -> tuple[pd.DataFrame, np.ndarray]:
    """The training rows' features and raw scores as the engine serves them: points against the reference
    population the version pins, not each year's own population as the model learnt them.

    Production decisions are scored against the pinned reference, so the monitoring reference describes the
    training sample the same way; otherwise a points category whose values sit on a few atoms (a percentile
    of many tied zeros moves a little from year to year) shows a stability index on unchanged data. Rows
    the frame does not hold (reject inference's augmented copies keep their labels) fall back to the
    features as trained.
    """
    X = fit.X_train
    if not X.index.isin(frame.index).all():
        return X, engine.classifier.raw_score(X)
    served = engine.features(with_served_points(frame.loc[X.index], engine))[list(X.columns)]
    return served, engine.classifier.raw_score(served)


def build_model_card(
    frame: pd.DataFrame,
    fit: FitResult,
    engine_versions: dict[str, Any],
    data_digest: str,
    train_raw: np.ndarray,
    config: PDModelConfig,
    engine: DecisionEngine | None = None,
) -> dict[str, Any]:
    """The model card: windows, data, selection, validation figures, grade table, limitations, and the
    monitoring reference of the training rows (PDs and grades on the master ``scale``) — as ``engine``
    serves them, when given (:func:`served_training_rows`)."""
    scale = config.master_scale
    pack = fit.validation
    X, raw = (fit.X_train, train_raw) if engine is None else served_training_rows(frame, fit, engine)
    train_pd = apply_pd_floor(sigmoid(raw), scale)
    reference = monitoring_reference(train_pd, assign_grade(train_pd, scale), X, weights=fit.w_train)
    grade = pack["grade_table"]
    window = _window(frame, fit.split.test)
    oot = oot_cohort(
        frame,
        window=(window[0], window[1]),
        seen_firms=fit.seen_firms,
        firm_column=config.split.firm_column,
        date_column=config.split.date_column,
        target=config.split.target,
    )
    if oot.n != len(fit.y_oot):  # one definition: the split's test rows are the cohort's
        raise AssertionError(f"OOT cohort of {oot.n} rows is not the {len(fit.y_oot)} rows validated")
    return {
        "windows": {
            "train": _window(frame, fit.split.train),
            "calibration": _window(frame, fit.split.calib),
            "out_of_time": _window(frame, fit.split.test),
        },
        "rows": {
            "train": len(fit.split.train),
            "calibration": len(fit.split.calib),
            "out_of_time": len(fit.split.test),
        },
        # the rows every OOT figure below (and the promotion gate's) is measured on
        "out_of_time": {**oot.describe(), "auc": float(pack["metrics"]["auc"])},
        "data_sha256": data_digest,
        "selection": {k: v for k, v in fit.selection.items() if k != "table"},
        "validation": {k: float(v) for k, v in pack["metrics"].items()},
        "challenger_validation": {k: float(v) for k, v in fit.challenger_validation["metrics"].items()},
        "grade_table": json.loads(grade.to_json(orient="records")),
        "score_distribution_train": score_distribution(train_raw),
        "configs": engine_versions,
        "feature_order_hash": fit.feature_order_hash,
        "reject_inference": fit.extra.get("reject_inference", {"method": "none"}),
        "monitoring_reference": reference,
        "libraries": library_versions(),
        "limitations": MODEL_LIMITATIONS,
    }


def _log_figures(fit: FitResult, console: Console) -> None:
    import matplotlib.pyplot as plt
    import mlflow

    from credit_points.reports.figures import calibration_by_grade_figure, roc_figure, shap_summary_figure

    figures = {
        "figures/roc.png": roc_figure(fit.y_oot, fit.prob_default_oot),
        "figures/calibration_by_grade.png": calibration_by_grade_figure(fit.validation["grade_table"]),
    }
    sample = fit.X_oot.sample(n=min(2000, len(fit.X_oot)), random_state=0)
    contrib, _ = fit.model.contributions(sample)
    figures["figures/shap_summary.png"] = shap_summary_figure(contrib, sample)
    for name, fig in figures.items():
        mlflow.log_figure(fig, name)
        plt.close(fig)


def _oot_label(oot: dict[str, Any]) -> str:
    return rows_label(oot["rows"], oot["window"], unseen_only=oot["firms"] == "unseen")


def _describe_version(
    name: str, version: str, run_id: str, digest: str, rows: int, artifact: str, oot: dict[str, Any]
) -> None:
    """What a validator finds on the registry version itself: a description and the tags that tie it to its
    code, data and run (the gate adds ``gate.verdict`` when ``promote`` judges it)."""
    from mlflow import MlflowClient

    from credit_points.tracking.runs import git_sha

    client = MlflowClient()
    client.update_model_version(
        name,
        version,
        description=(
            f"credit-points decision bundle (innovation points, calibrated PD model, lending policy) trained by "
            f"run {run_id} on {rows:,} applicant rows (data sha256 {digest[:16]}…), artifact {artifact[:16]}…. "
            f"OOT AUC {oot['auc']:.4f} on {_oot_label(oot)} ({oot['definition']}). Windows and validation "
            "figures: model_card.json in the bundle and the run's validation report; the promotion gate's "
            "verdict: the gate.* tags."
        ),
    )
    for tag, value in (("git_sha", git_sha()), ("data_sha256", digest), ("training_rows", str(rows))):
        client.set_model_version_tag(name, version, tag, value)


def run_train(
    data: str | Path,
    *,
    points_config: str = "torch-18",
    pd_config: str = "default",
    policy: str = "default",
    alias: str = "challenger",
    engine: str = "local",
    scheduler: str | None = None,
    settings: Settings | None = None,
    console: Console | None = None,
    reject_inference: str | None = None,
    reject_check: bool = True,
) -> TrainOutcome:
    """Train, validate, bundle, log and register; give the new version ``alias``.

    ``reject_inference`` (``none``, ``reweight``, ``augment``, ``parcel``) overrides the PD configuration's
    method; any method but ``none`` needs the applicants without an outcome of an ``outcomes dataset``
    table, and is checked against ``none`` on the data itself (``reject_check``; see
    ``pipelines/reject_check.py``): a method that does not beat ``none`` there is trained, with a warning.
    """
    import mlflow

    from credit_points.tracking.registry import register_bundle, set_alias
    from credit_points.tracking.runs import flatten, git_sha, log_dataset, log_params, training_run
    from credit_points.tracking.setup import configure_tracking

    settings = settings or get_settings()
    console = console or Console()
    pd_cfg = with_reject_inference(load_pd_config(pd_config), reject_inference)
    method = pd_cfg.reject_inference.method
    loaded = load_applicants(data, require_outcome=True, keep_unbooked=method != "none")
    bad_rows = int(loaded.errors["row"].nunique()) if len(loaded.errors) else 0
    if bad_rows:
        console.print(f"[yellow]{bad_rows} bad row(s) left out of training[/yellow]")
    if loaded.left_out:
        console.print(
            f"{loaded.left_out:,} application(s) without a matured outcome left out "
            "(declined, not booked, or the 12-month window still open)"
        )
    frame = loaded.frame.reset_index(drop=True)
    unbooked = int(frame["default_12m"].isna().sum())
    if method != "none":
        if not unbooked:
            raise DataValidationError(
                f"reject inference ({method}) needs applicants without an outcome: train on the table that "
                "`credit-points outcomes dataset` writes",
                field="reject_inference",
                value=method,
            )
        console.print(f"reject inference: {method}, over {unbooked:,} applicant(s) without an outcome")
    points_cfg = load_points_config(points_config)
    policy_cfg = load_policy(policy)
    codes_cfg = load_reason_codes()
    fields = load_fields()

    console.print(f"points ({points_config}) for {len(frame):,} firm-years")
    joined, reference, as_decided = training_frame(loaded, points_cfg, console)
    console.print("fitting the PD model (out-of-time split, calibration, challenger)")
    if engine == "dask":
        from credit_points.pipelines.dask_train import fit_pd_model_dask

        fit = fit_pd_model_dask(joined, pd_cfg, scheduler=scheduler)
    else:
        fit = fit_pd_model(joined, pd_cfg)
    if method != "none" and reject_check:
        fit.extra["reject_inference"]["self_check"] = _self_check(joined, loaded, pd_cfg, method, console)

    decision_engine = DecisionEngine(
        points_config=points_cfg,
        reference=reference,
        pd_config=pd_cfg,
        classifier=fit.model,
        policy=policy_cfg,
        reason_codes_config=codes_cfg,
        fields=fields,
        identity=ModelIdentity(name=settings.registry_model_name),
    )
    train_raw = fit.model.raw_score(fit.X_train)
    card = build_model_card(
        joined, fit, decision_engine.versions, loaded.digest, train_raw, pd_cfg, decision_engine
    )
    if loaded.outcomes_manifest is not None:  # the audit range and outcome files that trained it
        card["training_data"] = loaded.outcomes_manifest
    decision_engine.model_card = card

    configure_tracking(settings)
    with (
        training_run("train", tags={"git_sha": git_sha(), "engine": engine}) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        params = {
            "points": points_cfg.model_dump(mode="json", exclude={"provenance"}),
            "points_config_hash": points_cfg.content_hash,
            "pd_model": pd_cfg.model_dump(mode="json", exclude={"provenance"}),
            "pd_model_config_hash": pd_cfg.content_hash,
            "features": ",".join(c for c in fit.X_train.columns),
            "policy_version": policy_cfg.version,
            "policy_hash": policy_cfg.content_hash,
            "reference_hash": reference.content_hash,
            "git_sha": git_sha(),
            "engine": engine,
            **{f"lib.{k}": v for k, v in library_versions().items()},
        }
        log_params(flatten(params))
        inference = dict(fit.extra.get("reject_inference", {}))
        recorded = {k: v for k, v in inference.items() if k not in _RI_FIGURES and k != "self_check"}
        log_params(flatten({"reject_inference": recorded}), artifact_file="params/reject_inference.json")
        mlflow.log_metrics(
            {f"reject_inference_{k}": float(inference[k]) for k in _RI_FIGURES if k in inference}
        )
        checked = inference.get("self_check", {})
        if checked.get("checked"):
            mlflow.log_metrics(
                {f"reject_check_auc_{name}": row["auc"] for name, row in checked["methods"].items()}
            )
            mlflow.set_tag("reject_check.beats_none", str(checked["beats_none"]).lower())
        log_dataset(
            loaded.frame,
            name="applicants",
            source=loaded.path.resolve().as_uri(),
            digest=loaded.digest,
            context="training",
        )
        if loaded.outcomes_manifest is not None:  # learned from audited decisions and imported outcomes
            manifest = loaded.outcomes_manifest
            mlflow.log_dict(manifest, "data/outcomes_manifest.json")
            mlflow.set_tags(
                {
                    "data.kind": "outcomes dataset",
                    "data.audit_seq": "-".join(str(v) for v in manifest.get("audit_seq") or []),
                    "data.decision_dates": "..".join(manifest.get("decision_dates") or []),
                    "data.outcome_files": ",".join(
                        f["file_sha256"][:12] for f in manifest.get("outcome_files", [])
                    ),
                }
            )
            mlflow.log_metrics(
                {
                    "rows_without_matured_outcome": float(loaded.left_out),
                    "points_as_decided_rows": float(as_decided.sum()),
                    "points_recomputed_rows": float((~as_decided).sum()),
                }
            )
        mlflow.log_metrics({f"oot_{k}": float(v) for k, v in fit.metrics.items() if np.isfinite(v)})
        mlflow.set_tags(
            {"oot.rows": _oot_label(card["out_of_time"]), "oot.definition": card["out_of_time"]["definition"]}
        )
        mlflow.log_metric("bad_rows", float(bad_rows))
        for name in ("grade_table", "calibration_table", "csi_table"):
            table = fit.validation.get(name)
            if isinstance(table, pd.DataFrame):
                mlflow.log_text(table.to_csv(index=False), f"validation/{name}.csv")
        mlflow.log_dict(card, "model_card.json")
        _log_figures(fit, console)
        log_validation_report(fit, card, None)

        bundle_dir = Path(tmp) / "bundle"
        golden = golden_frame(decision_engine, frame.iloc[fit.split.test], n=40, seed=0)
        artifact = save_bundle(
            decision_engine, bundle_dir, golden_inputs=golden, model_card=card, training_firms=fit.seen_firms
        )
        version = register_bundle(
            bundle_dir,
            name=settings.registry_model_name,
            artifact_hash=artifact,
            run_id=run.info.run_id,
            engine=decision_engine,
        )
        _describe_version(
            settings.registry_model_name,
            version,
            run.info.run_id,
            loaded.digest,
            len(frame),
            artifact,
            card["out_of_time"],
        )
        set_alias(settings.registry_model_name, alias, version)
    console.print(
        f"registered {settings.registry_model_name} version {version} as @{alias} "
        f"(OOT AUC {fit.metrics['auc']:.4f} on {_oot_label(card['out_of_time'])}, run {run.info.run_id})"
    )
    return TrainOutcome(
        run_id=run.info.run_id,
        model_name=settings.registry_model_name,
        version=version,
        artifact_hash=artifact,
        metrics=dict(fit.metrics),
        model_card=card,
        bad_rows=bad_rows,
    )
