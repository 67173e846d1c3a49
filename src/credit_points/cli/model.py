"""CLI commands: the retraining workflow — `train`, `evaluate`, `promote`."""

from __future__ import annotations

from pathlib import Path

import typer


def train(
    data: Path = typer.Option(
        ..., "--data", help="Folder with applicants.parquet (or a file) with default_12m."
    ),
    points_config: str = typer.Option("torch-18", "--points-config", help="Points profile or YAML path."),
    config: str = typer.Option(
        "default", "--config", help="PD model profile (configs/pd_model/) or YAML path."
    ),
    policy: str = typer.Option("default", "--policy", help="Policy (configs/policy/) or YAML path."),
    alias: str = typer.Option("challenger", "--alias", help="Alias the new version gets."),
    engine: str = typer.Option("local", "--engine", help="local or dask (lightgbm.dask)."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler address; default a LocalCluster."
    ),
    reject_inference: str | None = typer.Option(
        None,
        "--reject-inference",
        help="none, reweight, augment or parcel (default: the PD profile's); needs an `outcomes dataset` table.",
    ),
    reject_check: bool = typer.Option(
        True,
        "--reject-check/--no-reject-check",
        help="Check the reject-inference method against none on this data first (warns when it does not help).",
    ),
) -> None:
    """Train out of time, log to MLflow, register a new version and give it the `challenger` alias."""
    from credit_points.pipelines.train import run_train

    run_train(
        data,
        points_config=points_config,
        pd_config=config,
        policy=policy,
        alias=alias,
        engine=engine,
        scheduler=scheduler,
        reject_inference=reject_inference,
        reject_check=reject_check,
    )


def evaluate(
    model: str = typer.Option(
        "models:/credit-points@champion",
        "--model",
        help="models:/NAME@ALIAS, models:/NAME/VERSION or a bundle folder.",
    ),
    data: Path = typer.Option(..., "--data", help="Folder or file with outcomes."),
    start: str | None = typer.Option(
        None, "--from", help="First as_of_date (default: the model's OOT window)."
    ),
    end: str | None = typer.Option(None, "--to", help="Last as_of_date."),
) -> None:
    """The validation pack (AUC with CI, KS, Brier, ECE, HL, grades with traffic lights, PSI) on any cohort."""
    from credit_points.pipelines.evaluate import run_evaluate

    run_evaluate(model, data, start=start, end=end)


def promote(
    data: Path = typer.Option(None, "--data", help="Folder or file with outcomes; default <home>/data/raw."),
    challenger: str = typer.Option("challenger", "--challenger", help="Alias of the candidate."),
    champion: str = typer.Option("champion", "--champion", help="Alias to move on a pass."),
    config: Path | None = typer.Option(
        None, "--config", help="Gate thresholds (default configs/promotion.yaml)."
    ),
    on_live: bool = typer.Option(
        False,
        "--on-live",
        help="Also compare the challenger with the champion on live traffic: the shadow decisions the "
        "challenger made beside the champion's audited ones (shown and logged; not a gate criterion).",
    ),
    audit_url: str | None = typer.Option(
        None,
        "--audit-url",
        help="With --on-live: the audit store (default: CREDIT_POINTS_AUDIT_URL or data/audit.db).",
    ),
) -> None:
    """The promotion gate: move `champion` to the challenger only if every criterion passes; exit 1 otherwise."""
    from credit_points.config import get_settings
    from credit_points.pipelines.evaluate import run_promote

    store = None
    if on_live:
        from credit_points.cli.serving import open_store

        store = open_store(audit_url, create=True)
    elif audit_url is not None:
        raise typer.BadParameter("--audit-url is only read with --on-live", param_hint="--audit-url")
    outcome = run_promote(
        data or get_settings().data_dir / "raw",
        challenger=challenger,
        champion=champion,
        config=config,
        live_store=store,
    )
    if not outcome.promoted:
        raise typer.Exit(1)


def bootstrap(
    firms: int = typer.Option(8000, "--firms", min=500, help="Firms to generate for the first model."),
    seed: int = typer.Option(7, "--seed", help="Generator seed."),
) -> None:
    """A first champion for a new deployment, once: generate, train, gate, register (nothing if one exists)."""
    from credit_points.pipelines.bootstrap import run_bootstrap

    run_bootstrap(firms=firms, seed=seed)


reject_app = typer.Typer(help="Reject inference on the bank's own data.", no_args_is_help=True)


@reject_app.command("check")
def reject_check(
    data: Path = typer.Option(..., "--data", help="The table `outcomes dataset` wrote."),
    share: float = typer.Option(
        0.2, "--share", help="Share of each year's booked loans a stricter policy declines."
    ),
    methods: str = typer.Option(
        "reweight,augment,parcel", "--methods", help="Methods to check, comma-separated."
    ),
    points_config: str = typer.Option("torch-18", "--points-config", help="Points profile or YAML path."),
    config: str = typer.Option(
        "default", "--config", help="PD model profile (configs/pd_model/) or YAML path."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Hide the outcomes of the loans a stricter policy would have declined; see what each method recovers."""
    import json

    from rich.console import Console

    from credit_points.pd_model.config import load_pd_config
    from credit_points.pd_model.reject_inference import with_reject_inference
    from credit_points.pipelines.common import load_applicants
    from credit_points.pipelines.reject_check import check_reject_inference
    from credit_points.pipelines.train import training_frame
    from credit_points.points.config import load_points_config

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    pd_cfg = load_pd_config(config)
    for method in chosen:
        with_reject_inference(pd_cfg, method)  # an unknown method is refused, naming it
    console = Console(stderr=as_json)
    loaded = load_applicants(data, require_outcome=True, keep_unbooked=True)
    joined, _, _ = training_frame(loaded, load_points_config(points_config), console)
    result = check_reject_inference(joined, loaded.as_decided, pd_cfg, share=share, methods=chosen)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    typer.echo(
        f"hidden: the riskiest {share:.0%} of each year's booked loans by the score they were decided with "
        f"({result.hidden_rows:,} loans; {result.test_hidden_rows:,} of the test year's {result.test_rows:,})"
    )
    typer.echo(
        f"{'method':<10}{'AUC':>8}{'gap recovered':>15}{'hidden: predicted':>19}{'observed':>10}{'ECE':>8}"
    )
    for name, row in result.rows.items():
        gap = "—" if name in ("none", "full") else f"{row['gap_recovered']:+.2f}"
        label = "full" if name == "full" else name
        typer.echo(
            f"{label:<10}{row['auc']:>8.4f}{gap:>15}{row['hidden_predicted_rate']:>19.4f}"
            f"{row['hidden_observed_rate']:>10.4f}{row['hidden_ece']:>8.4f}"
        )
    typer.echo("full: the hidden outcomes visible (what a method could at best recover)")
    for method in chosen:
        if method != "none":
            verdict = "beats" if result.beats_none(method) else "does not beat"
            typer.echo(f"{method} {verdict} none on this data")


def monitor(
    model: str = typer.Option(
        ..., "--model", help="The model version to watch (models:/NAME/VERSION or @alias)."
    ),
    since: str | None = typer.Option(None, "--since", help="First decision date (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Last decision date (YYYY-MM-DD)."),
    out: Path = typer.Option(..., "--out", help="Folder for monitor.json and the reports."),
    audit_url: str | None = typer.Option(
        None, "--audit-url", help="The audit store's URL (default: CREDIT_POINTS_AUDIT_URL or data/audit.db)."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Thresholds (default configs/monitoring.yaml)."
    ),
    mlflow_run: bool = typer.Option(
        True, "--mlflow/--no-mlflow", help="Record the window as an MLflow run linked to the model version."
    ),
) -> None:
    """Compare what a model version decided in a window with its training; exit 0 green, 1 amber, 2 red.

    Writes monitor.json and the report in Chinese and English (monitoring_report_zh.html, _en.html)."""
    import json

    from credit_points.cli.options import option_date
    from credit_points.cli.serving import open_store
    from credit_points.config import get_settings
    from credit_points.pipelines.models import load_engine
    from credit_points.pipelines.monitor import (
        load_monitoring_config,
        log_monitoring_run,
        monitor_window,
    )
    from credit_points.reports.monitoring import write_monitoring_reports

    first, last = option_date(since, "--since"), option_date(until, "--until")  # before any slow work
    thresholds = load_monitoring_config(config)
    settings = get_settings()
    engine, _ = load_engine(model, settings)
    store = open_store(audit_url, create=True)
    result = monitor_window(store, engine, since=first, until=last, thresholds=thresholds)
    out.mkdir(parents=True, exist_ok=True)
    figures = result.as_dict()
    (out / "monitor.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    reports = write_monitoring_reports(figures, out)
    mix = ", ".join(f"{k} {v:.1%}" for k, v in result.decision_mix.items())
    typer.echo(
        f"version {result.model_version}: {result.decisions:,} decision(s){f' ({mix})' if mix else ''}"
    )
    typer.echo(f"status: {result.status}")
    for reason in result.reasons:
        typer.echo(f"  - {reason}")
    backtest = result.backtest
    if backtest:
        typer.echo(
            f"back-test: {backtest['matured']:,} matured loan(s), {backtest['booked_not_matured']:,} not yet "
            f"({backtest['status']})"
        )
    for shadow in result.shadow:
        typer.echo(
            f"shadow version {shadow['model_version']}: {shadow['compared']:,} decision(s) compared, agreement "
            f"{shadow['agreement']:.1%}, swap-in {shadow['swap_in']:,}, swap-out {shadow['swap_out']:,}"
        )
    typer.echo(f"figures: {out / 'monitor.json'}")
    for lang, path in reports.items():
        typer.echo(f"report ({lang}): {path}")
    if mlflow_run:
        try:
            run_id = log_monitoring_run(result, engine, [out / "monitor.json", *reports.values()], settings)
        except Exception as exc:  # the figures are written: a tracking outage must not hide them
            typer.echo(f"MLflow run not recorded: {type(exc).__name__}: {exc}", err=True)
        else:
            typer.echo(f"MLflow run: {run_id} (version {result.model_version})")
    raise typer.Exit(result.exit_code)


def retrain(
    outcomes: list[Path] = typer.Option(
        [],
        "--outcomes",
        help="Loan performance files to import first (repeatable; the same bytes twice add nothing).",
    ),
    since: str | None = typer.Option(None, "--since", help="First decision date of the table (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Last decision date of the table (YYYY-MM-DD)."),
    today: str | None = typer.Option(
        None, "--today", help="Outcome rows observed after this date are future-dated (default today)."
    ),
    audit_url: str | None = typer.Option(
        None, "--audit-url", help="The audit store's URL (default: CREDIT_POINTS_AUDIT_URL or data/audit.db)."
    ),
    points_config: str = typer.Option("torch-18", "--points-config", help="Points profile or YAML path."),
    config: str = typer.Option(
        "default", "--config", help="PD model profile (configs/pd_model/) or YAML path."
    ),
    policy: str = typer.Option("default", "--policy", help="Policy (configs/policy/) or YAML path."),
    reject_inference: str | None = typer.Option(
        None, "--reject-inference", help="none, reweight, augment or parcel (default: the PD profile's)."
    ),
    gate: Path | None = typer.Option(
        None, "--gate", help="Gate thresholds (default configs/promotion.yaml)."
    ),
) -> None:
    """Outcomes to the next challenger: import → training table → train → gate → @challenger, or refuse (exit 1).

    The same inputs (table, configurations, gate) make no new version: the earlier verdict is reported."""
    from credit_points.cli.options import option_date
    from credit_points.cli.serving import open_store
    from credit_points.pipelines.retrain import run_retrain

    first, last = option_date(since, "--since"), option_date(until, "--until")
    day = option_date(today, "--today")
    for path in outcomes:
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {str(path)!r}", param_hint="--outcomes")
    store = open_store(audit_url, create=True)
    try:
        result = run_retrain(
            store,
            outcomes=list(outcomes),
            since=first,
            until=last,
            today=day,
            points_config=points_config,
            pd_config=config,
            policy=policy,
            reject_inference=reject_inference,
            gate_config=gate,
        )
    finally:
        store.dispose()
    if not result.passed:
        typer.echo(f"refused: failed gate criteria: {', '.join(result.failed)}", err=True)
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("retrain")(retrain)
    app.command("monitor")(monitor)
    app.add_typer(reject_app, name="reject-inference")
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("promote")(promote)
    app.command("bootstrap")(bootstrap)
