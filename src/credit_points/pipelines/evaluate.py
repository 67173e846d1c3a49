"""The ``evaluate`` and ``promote`` jobs: the validation pack of any version on any cohort, and the gate.

Both decide the cohort with the bundle exactly as serving would (points against the bundle's pinned
reference, floored PD, grades), so what is validated is what is served.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from credit_points.config import CONFIG_DIR, Settings, get_settings, load_config
from credit_points.engine import DecisionEngine
from credit_points.exceptions import DataValidationError
from credit_points.pd_model.delong import delong_test
from credit_points.pd_model.oot import definition, oot_cohort, read_training_firms, rows_label
from credit_points.pd_model.validation import validation_pack
from credit_points.pipelines.common import load_applicants
from credit_points.pipelines.models import load_engine
from credit_points.tracking.gate import GateResult, PromotionConfig, evaluate_gate, score_psi
from credit_points.tracking.registry import ResolvedModel


@dataclass
class Evaluation:
    """The validation pack of one model on one cohort."""

    resolved: ResolvedModel
    pack: dict[str, Any]
    y: np.ndarray
    raw_score: np.ndarray
    prob_default: np.ndarray
    cohort: tuple[str, str]
    #: which rows: the OOT definition's (``pd_model/oot.py``) or every row of a chosen window
    rows: dict[str, Any] | None = None

    @property
    def rows_label(self) -> str:
        unseen = bool(self.rows) and self.rows.get("firms") == "unseen"  # type: ignore[union-attr]
        return rows_label(int(self.pack["metrics"]["n"]), self.cohort, unseen_only=unseen)


def select_cohort(frame: pd.DataFrame, start: str | None, end: str | None) -> pd.DataFrame:
    """Rows with ``start <= as_of_date <= end`` (ISO dates; open ends allowed), every firm's."""
    cohort = oot_cohort(frame, window=(start, end), seen_firms=None, target=None)
    if not cohort.n:
        raise DataValidationError(
            f"no rows with as_of_date in [{start or '…'}, {end or '…'}]", field="as_of_date"
        )
    return frame.loc[cohort.mask]


def oot_rows(
    engine: DecisionEngine, resolved: ResolvedModel, frame: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The version's OOT rows of ``frame`` (``pd_model/oot.py``: its out-of-time window, matured outcomes,
    firms it did not train on) and their description."""
    split = engine.pd_config.split
    start, end = _oot_window(engine)
    cohort = oot_cohort(
        frame,
        window=(start, end),
        seen_firms=read_training_firms(resolved.bundle_dir),
        firm_column=split.firm_column,
        date_column=split.date_column,
        target=split.target,
    )
    if not cohort.n:
        raise DataValidationError(
            f"no out-of-time rows in the data ({definition(cohort.unseen_only)}; window "
            f"{start or '…'}..{end or '…'})",
            field=split.date_column,
        )
    return frame.loc[cohort.mask], cohort.describe()


def evaluate_engine(
    engine: DecisionEngine, resolved: ResolvedModel, cohort: pd.DataFrame, rows: dict[str, Any] | None = None
) -> Evaluation:
    """Decide the cohort and compute the validation pack against its observed outcomes."""
    target = engine.pd_config.split.target
    if target not in cohort.columns or cohort[target].isna().any():
        raise DataValidationError("outcomes are required to evaluate a model", field=target)
    decided = engine.decide(cohort, explain="none")
    y = cohort[target].to_numpy(dtype=float).astype(int)
    prob_default = decided["prob_default"].to_numpy(dtype=float)
    raw = decided["raw_score"].to_numpy(dtype=float)
    pack = validation_pack(
        y,
        prob_default,
        decided["grade"].to_numpy(),
        engine.pd_config.master_scale,
        config=engine.pd_config.validation,
    )
    reference = engine.model_card.get("score_distribution_train")
    if reference:
        pack["metrics"]["score_psi"] = score_psi(reference, raw)
    dates = cohort["as_of_date"]
    window = (dates.min().date().isoformat(), dates.max().date().isoformat())
    return Evaluation(resolved, pack, y, raw, prob_default, window, rows)


def print_evaluation(evaluation: Evaluation, console: Console) -> None:
    m = evaluation.pack["metrics"]
    r = evaluation.resolved
    console.print(
        f"{r.name} version {r.version} on {evaluation.rows_label}: "
        f"defaults={int(m['defaults'])} AUC {m['auc']:.4f} "
        f"[{m['auc_ci_low']:.4f}, {m['auc_ci_high']:.4f}] Gini {m['gini']:.4f} KS {m['ks']:.4f} "
        f"Brier {m['brier']:.5f} ECE {m['ece']:.5f} HL p {m['hl_p_value']:.3f}"
        + (f" score PSI {m['score_psi']:.4f}" if "score_psi" in m else "")
    )
    table = Table(title="calibration by grade", title_justify="left")
    for col in ("grade", "n", "defaults", "observed %", "mean PD %", "binomial p", "Jeffreys p", "light"):
        table.add_column(col, justify="right")
    for _, row in evaluation.pack["grade_table"].iterrows():
        if row["n"] == 0:
            continue
        table.add_row(
            str(row["grade"]), f"{int(row['n']):,}", str(int(row["defaults"])), f"{100 * row['observed_rate']:.2f}",
            f"{100 * row['mean_pd']:.2f}", f"{row['binomial_p']:.3f}", f"{row['jeffreys_p']:.3f}", str(row["traffic_light"]),
        )  # fmt: skip
    console.print(table)


def _oot_window(engine: DecisionEngine) -> tuple[str | None, str | None]:
    window = engine.model_card.get("windows", {}).get("out_of_time")
    return (window[0], window[1]) if window else (None, None)


def run_evaluate(
    model: str,
    data: str | Path,
    *,
    start: str | None = None,
    end: str | None = None,
    settings: Settings | None = None,
    console: Console | None = None,
) -> Evaluation:
    """Validation pack of ``model`` on the rows of ``data`` in [start, end], every firm's; without dates, on
    its OOT rows (``pd_model/oot.py``: the figures its model card and the gate show)."""
    console = console or Console()
    engine, resolved = load_engine(model, settings or get_settings())
    frame = load_applicants(data, require_outcome=True).frame
    if start is None and end is None:
        cohort, rows = oot_rows(engine, resolved, frame)
    else:
        cohort, rows = select_cohort(frame, start, end), {"firms": "all"}
    evaluation = evaluate_engine(engine, resolved, cohort, rows)
    print_evaluation(evaluation, console)
    return evaluation


@dataclass
class PromotionOutcome:
    """The gate's verdict and what it compared."""

    gate: GateResult
    challenger: ResolvedModel
    champion: ResolvedModel | None
    promoted: bool


def run_promote(
    data: str | Path,
    *,
    challenger: str = "challenger",
    champion: str = "champion",
    config: str | Path | None = None,
    settings: Settings | None = None,
    console: Console | None = None,
    promote_to: str | None = None,
    live_store: Any = None,
) -> PromotionOutcome:
    """Gate the ``challenger`` alias against ``champion`` on the challenger's OOT cohort; on a pass, move
    ``promote_to`` (default: ``champion``) to it. With ``live_store`` (an audit store), the challenger's shadow
    decisions on the champion's live traffic are compared with the champion's and shown and logged beside
    the gate's table (they inform the decision; they are not a criterion)."""
    import mlflow

    from credit_points.tracking.registry import alias_version, set_alias
    from credit_points.tracking.runs import training_run
    from credit_points.tracking.setup import configure_tracking

    settings = settings or get_settings()
    console = console or Console()
    gate_cfg = load_config(config or CONFIG_DIR / "promotion.yaml", PromotionConfig)
    name = settings.registry_model_name
    configure_tracking(settings)
    chal_engine, chal = load_engine(f"models:/{name}@{challenger}", settings, allow_cached=False)
    cohort, rows = oot_rows(chal_engine, chal, load_applicants(data, require_outcome=True).frame)
    chal_eval = evaluate_engine(chal_engine, chal, cohort, rows)
    print_evaluation(chal_eval, console)

    champ = None
    p_drop = champ_auc = None
    if alias_version(name, champion) is not None:
        champ_engine, champ = load_engine(f"models:/{name}@{champion}", settings, allow_cached=False)
        champ_eval = evaluate_engine(champ_engine, champ, cohort)
        test = delong_test(chal_eval.y, chal_eval.prob_default, champ_eval.prob_default)
        p_drop, champ_auc = test.p_value_a_worse, test.auc_b
        console.print(f"champion version {champ.version}: AUC {champ_auc:.4f} on the same cohort")
    live = None
    if live_store is not None:
        live = live_comparison(live_store, champ, chal, console)
    metrics = chal_eval.pack["metrics"]
    red = chal_eval.pack["grade_table"].query("traffic_light == 'red'")["grade"].astype(str).tolist()
    gate = evaluate_gate(
        gate_cfg,
        oot_auc=metrics["auc"],
        rows=chal_eval.rows_label,
        n_defaults=int(metrics["defaults"]),
        red_grades=red,
        psi=float(metrics.get("score_psi", 0.0)),
        auc_drop_p_value=p_drop,
        champion_auc=champ_auc,
    )
    table = Table(title=f"promotion gate: {name} version {chal.version}", title_justify="left")
    for col in ("criterion", "verdict", "value", "threshold", "detail"):
        table.add_column(col)
    for c in gate.criteria:
        table.add_row(
            c.name,
            "[green]pass[/green]" if c.passed else "[red]FAIL[/red]",
            str(c.value),
            str(c.threshold),
            c.detail,
        )
    console.print(table)
    promoted = gate.passed
    target = promote_to or champion
    verdict = {
        "verdict": "passed" if promoted else "failed",
        "model": name,
        "version": chal.version,
        "champion_version": champ.version if champ else None,
        "rows": chal_eval.rows,
        "rows_label": chal_eval.rows_label,
        "gate_config_hash": gate_cfg.content_hash,
        "criteria": json.loads(gate.to_frame().to_json(orient="records")),
    }
    with training_run(
        "promote", tags={"model_version": chal.version, "verdict": "pass" if promoted else "fail"}
    ) as run:
        mlflow.log_params({"challenger_version": chal.version, "champion_version": champ.version if champ else "none",
                           "gate_config_hash": gate_cfg.content_hash, "cohort": chal_eval.rows_label,
                           "decided_at": dt.datetime.now(dt.UTC).isoformat()})  # fmt: skip
        mlflow.log_metrics({f"gate_{k}": float(v) for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_text(gate.to_frame().to_csv(index=False), "promotion_gate.csv")
        mlflow.log_dict(verdict, "promotion_gate.json")
        if live is not None:
            mlflow.log_dict(live, "live_comparison.json")
    from mlflow import MlflowClient

    from credit_points.pipelines.engine_service import GATE_TAG

    # the verdict on the version itself ("passed" lets a running service reload it by number later, a
    # rollback, say), with the run that holds the gate's table and the rows it measured
    client = MlflowClient()
    for tag, value in {
        GATE_TAG: verdict["verdict"],
        "gate.run_id": run.info.run_id,
        "gate.oot_auc": f"{metrics['auc']:.4f}",
        "gate.rows": chal_eval.rows_label,
        "gate.failed": ",".join(c.name for c in gate.failures),
    }.items():
        client.set_model_version_tag(name, chal.version, tag, value)
    if promoted:
        set_alias(name, target, chal.version)
        console.print(f"[green]version {chal.version} is now @{target}[/green]")
    else:
        console.print(
            f"[red]version {chal.version} was not promoted: {', '.join(c.name for c in gate.failures)}[/red]"
        )
    return PromotionOutcome(gate, chal, champ, promoted)


def live_comparison(
    store: Any, champion: ResolvedModel | None, challenger: ResolvedModel, console: Console
) -> dict[str, Any]:
    """The challenger's shadow decisions on the champion's audited traffic, against the champion's."""
    from credit_points.pipelines.monitor import shadow_comparison
    from credit_points.pipelines.outcomes import build_dataset

    if champion is None:
        console.print("live traffic: no champion has decided anything yet")
        return {"compared": 0, "note": "no champion"}
    frame = build_dataset(store, model_version=str(champion.version))
    found = shadow_comparison(frame, store, shadow_version=str(challenger.version)) if len(frame) else []
    if not found:
        console.print(
            f"live traffic: no shadow decisions of version {challenger.version} beside the champion's "
            f"{len(frame):,} (set CREDIT_POINTS_SHADOW_MODEL_URI on the service, or score --audit --shadow)"
        )
        return {"compared": 0, "champion_decisions": len(frame)}
    live = found[0]
    auc = (
        f"; on {live['matured']:,} matured loans AUC {live['auc_shadow']:.4f} against the champion's "
        f"{live['auc_champion']:.4f}"
        if "auc_shadow" in live
        else ""
    )
    console.print(
        f"live traffic: version {challenger.version} in shadow on {live['compared']:,} of the champion's decisions: "
        f"agreement {live['agreement']:.1%}, swap-in {live['swap_in']:,}, swap-out {live['swap_out']:,}, "
        f"approved limits {live['limit_shadow']:,.0f} against {live['limit_champion']:,.0f}{auc}"
    )
    return live
