"""CLI commands: per-loan reports (``report``)."""

from __future__ import annotations

from pathlib import Path

import typer


def _split(values: str, option: str) -> list[str]:
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not items:
        raise typer.BadParameter(f"{option} needs at least one value")
    return items


def report(
    decisions: Path = typer.Option(
        ...,
        "--decisions",
        help="Decision records as JSON lines (API / audit store) or the Parquet/CSV of 'score'.",
    ),
    out: Path = typer.Option(..., "--out", help="Folder for the reports (<decision id>.<lang>.<format>)."),
    decision_id: list[str] = typer.Option(
        [],
        "--decision-id",
        help="Only these decisions (decision id, or firm id when records have none); repeatable.",
    ),
    formats: str = typer.Option("html", "--format", help="Comma-separated: html, pdf, json."),
    langs: str = typer.Option("zh", "--lang", help="Comma-separated: zh, en."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="The model the decisions were made with (models:/… or a bundle folder); default the champion.",
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes (default: one per CPU)."),
) -> None:
    """Write the explainability report of each decision: outcome, limit waterfall, points, PD, what-ifs."""
    from credit_points.pipelines.report import run_report

    batch = run_report(
        decisions=decisions,
        out_dir=out,
        decision_ids=decision_id,
        formats=_split(formats, "--format"),
        langs=_split(langs, "--lang"),
        model=model,
        workers=workers,
    )
    if batch.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("report")(report)
