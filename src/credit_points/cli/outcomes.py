"""CLI commands: loan outcomes — ``outcomes simulate``, ``outcomes import``, ``outcomes dataset``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from credit_points.cli.options import option_date

outcomes_app = typer.Typer(help="Loan outcomes of decided applications.", no_args_is_help=True)


@outcomes_app.command("simulate")
def outcomes_simulate(
    truth: Path = typer.Option(
        ..., "--truth", help="The generator's truth.parquet (true outcome of every firm-year)."
    ),
    decisions: Path | None = typer.Option(
        None, "--decisions", help="Decisions written by `score` (Parquet or CSV); referrals stay unbooked."
    ),
    audit: bool = typer.Option(
        False, "--audit", help="Read the decisions (and officers' overrides) from the audit store instead."
    ),
    audit_url: str | None = typer.Option(
        None,
        "--audit-url",
        help="With --audit: the store's URL (default: CREDIT_POINTS_AUDIT_URL or data/audit.db).",
    ),
    out: Path = typer.Option(..., "--out", help="Where to write the performance rows (.parquet)."),
    seed: int = typer.Option(7, "--seed", help="Seed of the booking draw (take-up)."),
    observed_until: str | None = typer.Option(
        None,
        "--observed-until",
        help="Last date observed (YYYY-MM-DD); default: every loan's 12 months closed.",
    ),
) -> None:
    """Book the approved decisions (take-up from configs/generator.yaml) and write their performance rows."""
    from credit_points.datasets.io import read_table, write_table
    from credit_points.pipelines.outcomes import decisions_from_audit, decisions_from_file, simulate_outcomes

    if (decisions is None) == (not audit):
        raise typer.BadParameter(
            "give exactly one of --decisions FILE or --audit", param_hint="--decisions/--audit"
        )
    if audit:
        from credit_points.cli.serving import open_store

        frame = decisions_from_audit(open_store(audit_url))
    else:
        frame = decisions_from_file(decisions)  # type: ignore[arg-type]
    until = None
    if observed_until is not None:
        try:
            until = dt.date.fromisoformat(observed_until)
        except ValueError:
            raise typer.BadParameter(
                f"not a date: {observed_until!r}", param_hint="--observed-until"
            ) from None
    rows, summary = simulate_outcomes(frame, read_table(truth), seed=seed, observed_until=until)
    write_table(rows, out)
    typer.echo(
        f"{summary.decisions:,} decision(s) of {summary.applications:,} application(s): {summary.approved:,} approved, "
        f"{summary.booked:,} booked; {summary.rows:,} performance row(s) observed until {summary.observed_until}"
    )
    typer.echo(f"performance: {out}")


@outcomes_app.command("import")
def outcomes_import(
    file: Path | None = typer.Option(
        None, "--file", help="Loan performance rows (the `performance` file of `generate`, or a bank's)."
    ),
    history: Path | None = typer.Option(
        None, "--history", help="The bank's historical decisions (inputs as known then, decision, booked)."
    ),
    errors: Path | None = typer.Option(
        None, "--errors", help="Refused rows with row, field, value and reason."
    ),
    audit_url: str | None = typer.Option(
        None, "--audit-url", help="The audit store's URL (default: CREDIT_POINTS_AUDIT_URL or data/audit.db)."
    ),
    today: str | None = typer.Option(
        None, "--today", help="Rows observed after this date are future-dated (YYYY-MM-DD; default today)."
    ),
) -> None:
    """Store performance rows matched to the decisions that booked them (--file), or the bank's historical
    decisions (--history); refuse and report bad rows, keep the others."""
    from credit_points.cli.serving import open_store
    from credit_points.pipelines.outcomes import import_history, import_performance

    if (file is None) == (history is None):
        raise typer.BadParameter("give exactly one of --file or --history", param_hint="--file/--history")

    day = None
    if today is not None:
        try:
            day = dt.date.fromisoformat(today)
        except ValueError:
            raise typer.BadParameter(f"not a date: {today!r}", param_hint="--today") from None
    store = open_store(audit_url, create=True)
    if history is not None:
        file = history
        summary = import_history(store, history, errors_path=errors)
    else:
        assert file is not None
        summary = import_performance(store, file, errors_path=errors, today=day)
    if summary.already_imported_at is not None:
        typer.echo(
            f"{file}: already imported on {summary.already_imported_at} (SHA-256 {summary.file_sha256[:12]}…); "
            "nothing changed"
        )
        return
    typer.echo(
        f"{file}: {summary.rows:,} row(s): {summary.kept:,} stored, {summary.already_stored:,} already stored, "
        f"{summary.refused:,} refused (SHA-256 {summary.file_sha256[:12]}…)"
    )
    if summary.refused:
        typer.echo("refused rows: " + (str(errors) if errors else "give --errors FILE to see them"), err=True)
        raise typer.Exit(1)


@outcomes_app.command("dataset")
def outcomes_dataset(
    out: Path = typer.Option(..., "--out", help="The training table (.parquet or .csv)."),
    since: str | None = typer.Option(None, "--since", help="First decision date kept (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Last decision date kept (YYYY-MM-DD)."),
    model: str | None = typer.Option(
        None, "--model", help="Keep the decisions of one model version (models:/NAME/VERSION or VERSION)."
    ),
    audit_url: str | None = typer.Option(
        None, "--audit-url", help="The audit store's URL (default: CREDIT_POINTS_AUDIT_URL or data/audit.db)."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Processes reading the audit log (default: the cores, up to 4, from 100,000 rows on).",
    ),
) -> None:
    """Write the point-in-time training table: audited inputs as decided, joined to matured outcomes."""
    import json

    from credit_points.cli.serving import open_store
    from credit_points.datasets.io import write_table
    from credit_points.pipelines.outcomes import build_dataset, dataset_manifest

    version = None
    if model is not None:
        version = model.rstrip("/").rsplit("/", 1)[-1]
        if "@" in version:
            raise typer.BadParameter(
                "give a version (models:/NAME/VERSION), not an alias", param_hint="--model"
            )
    store = open_store(audit_url, create=True)
    frame = build_dataset(
        store,
        since=option_date(since, "--since"),
        until=option_date(until, "--until"),
        model_version=version,
        workers=workers,
    )
    write_table(frame, out)
    manifest = out.with_name(out.name + ".manifest.json")
    manifest.write_text(
        json.dumps(dataset_manifest(store, frame), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    counts = frame["outcome"].value_counts().to_dict() if len(frame) else {}
    typer.echo(
        f"{len(frame):,} application(s): {counts.get('matured', 0):,} matured, "
        f"{counts.get('booked_not_matured', 0):,} booked not matured, {counts.get('no_outcome', 0):,} without outcome"
    )
    typer.echo(f"dataset: {out} (what it was built from: {manifest.name})")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(outcomes_app, name="outcomes")
