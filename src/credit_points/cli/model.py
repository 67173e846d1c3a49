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
) -> None:
    """The promotion gate: move `champion` to the challenger only if every criterion passes; exit 1 otherwise."""
    from credit_points.config import get_settings
    from credit_points.pipelines.evaluate import run_promote

    outcome = run_promote(
        data or get_settings().data_dir / "raw", challenger=challenger, champion=champion, config=config
    )
    if not outcome.promoted:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("promote")(promote)
