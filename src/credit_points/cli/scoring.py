"""CLI commands: batch scoring (`score`) and the end-to-end demo (`demo`)."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def score(
    model: str = typer.Option(
        "models:/credit-points@champion",
        "--model",
        help="models:/NAME@ALIAS, models:/NAME/VERSION or a bundle folder.",
    ),
    in_path: Path = typer.Option(..., "--in", help="Applicants, CSV or Parquet."),
    out_path: Path = typer.Option(..., "--out", help="Decisions, .parquet or .csv."),
    errors_path: Path | None = typer.Option(
        None,
        "--errors",
        help="Bad rows with their reasons (CSV); default <out>.errors.csv beside the decisions.",
    ),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", min=1, help="Rows per chunk (bounds memory)."),
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        help="Local engine: threads per chunk (LightGBM, and the chunk's rows split over them; the same "
        "decisions). Default: every CPU.",
    ),
    engine: str = typer.Option("local", "--engine", help="local (streaming chunks) or dask."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler address; default a LocalCluster."
    ),
    explain: str = typer.Option(
        "adverse", "--explain", help="Contributions for: adverse rows, all rows, none."
    ),
    drop_unknown_columns: bool = typer.Option(
        False,
        "--drop-unknown-columns",
        help="Drop (and list) columns the applicant record does not know, instead of refusing the file.",
    ),
    audit: bool = typer.Option(
        False,
        "--audit",
        help="Record every decision in the audit store, as the API does (a registry version only); "
        "the output gets each row's decision_id. Re-running the same file adds nothing.",
    ),
    audit_url: str | None = typer.Option(
        None,
        "--audit-url",
        help="With --audit: SQLAlchemy URL of the audit store (default: CREDIT_POINTS_AUDIT_URL or data/audit.db).",
    ),
    shadow: str | None = typer.Option(
        None,
        "--shadow",
        help="With --audit: a challenger (models:/NAME@ALIAS or /VERSION) that decides the same rows in shadow; "
        "its decisions go to the shadow table, never into the answer or the chain.",
    ),
) -> None:
    """Decide every applicant in a file; print the portfolio summary by stage and product."""
    from credit_points.pipelines.score_job import run_score

    store = None
    if audit:
        from credit_points.cli.serving import open_store

        store = open_store(audit_url, create=True)
    elif audit_url is not None:
        raise typer.BadParameter("--audit-url is only read with --audit", param_hint="--audit-url")
    if shadow is not None and not audit:
        raise typer.BadParameter("--shadow is only read with --audit", param_hint="--shadow")

    summary = run_score(
        model=model,
        in_path=in_path,
        out_path=out_path,
        errors_path=errors_path,
        chunk_rows=chunk_rows,
        engine=engine,
        scheduler=scheduler,
        explain=explain,
        drop_unknown_columns=drop_unknown_columns,
        audit_store=store,
        shadow=shadow,
        threads=threads or os.cpu_count() or 1,
    )
    if summary.bad_rows:
        raise typer.Exit(1)


def demo(
    firms: int = typer.Option(8000, "--firms", min=200, help="Firms in the generated zone."),
    seed: int = typer.Option(7, "--seed"),
    out: Path | None = typer.Option(None, "--out", help="Where to write; default <home>/data/demo."),
) -> None:
    """The whole job on embedded defaults: generate → points → train → register → promote → score → reports."""
    from credit_points.pipelines.demo import run_demo

    run_demo(firms=firms, seed=seed, out=out)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("score")(score)
    app.command("demo")(demo)
