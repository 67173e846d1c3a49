"""The ``demo`` job: the whole product on embedded defaults, from generated data to per-loan reports.

generate → validate → points → train + register (MLflow, SQLite) → promote (gate) → score a portfolio →
reports for a sample of approved, referred and declined firms; then print where everything is.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from rich.console import Console

from credit_points.config import Settings, get_settings


def _step(console: Console, n: int, text: str) -> float:
    console.rule(f"[bold]{n}. {text}")
    return time.perf_counter()


def _sample_reports(
    decisions: Path, out_dir: Path, model_uri: str, settings: Settings, console: Console
) -> Path:
    """Two reports of each outcome, in every format and both languages."""
    from credit_points.datasets.io import read_table, write_table
    from credit_points.pipelines.models import load_engine
    from credit_points.pipelines.report import load_decisions, render_batch, sample_by_decision

    engine, resolved = load_engine(model_uri, settings)
    scored = read_table(decisions)
    sample = scored.groupby("decision", sort=True).head(2)  # rebuild only the records that get a report
    sample_path = write_table(sample, out_dir.parent / "report_sample.parquet")
    records = sample_by_decision(load_decisions(sample_path, engine), per_decision=2)
    batch = render_batch(
        records,
        out_dir,
        formats=("html", "pdf", "json"),
        langs=("zh", "en"),
        engine=engine,
        model_uri=f"models:/{resolved.name}/{resolved.version}",
        console=console,
    )
    for path in batch.paths:
        if path.suffix == ".html":
            console.print(f"  {path}")
    for key, problem in batch.failed:
        console.print(f"[red]report {key}: {problem}[/red]")
    return out_dir


def run_demo(
    *, firms: int = 8000, seed: int = 7, out: Path | None = None, settings: Settings | None = None
) -> dict[str, Path]:
    """Run every stage once and return the paths it wrote."""
    from credit_points.datasets.io import write_table
    from credit_points.pipelines.common import load_applicants, score_points_by_cohort
    from credit_points.pipelines.evaluate import run_promote
    from credit_points.pipelines.generate import write_panel
    from credit_points.pipelines.score_job import run_score
    from credit_points.pipelines.train import run_train
    from credit_points.points.config import load_points_config

    settings = settings or get_settings()
    console = Console()
    root = Path(out) if out else settings.data_dir / "demo"
    raw = root / "raw"
    started = time.perf_counter()
    paths: dict[str, Path] = {}

    t = _step(console, 1, f"generate a zone of {firms:,} firms, 2019–2024 (seed {seed})")
    written = write_panel(raw, n_firms=firms, years=(2019, 2024), seed=seed)
    paths.update({f"data_{k}": Path(v) for k, v in written.items()})
    console.print(f"{written['applicants']} ({time.perf_counter() - t:.1f} s)")

    t = _step(console, 2, "validate the applicant file")
    loaded = load_applicants(raw, require_outcome=True)
    console.print(
        f"{len(loaded.frame):,} good rows, {len(loaded.errors)} problems; data SHA-256 {loaded.digest[:16]}…"
    )

    t = _step(console, 3, "innovation points (torch-18 profile, each year against its own zone population)")
    frame = loaded.frame.reset_index(drop=True)
    points, _ = score_points_by_cohort(frame, load_points_config(settings.points_config))
    paths["points"] = write_table(
        pd.concat([frame[["firm_id", "as_of_date", "zone"]], points], axis=1), root / "points.parquet"
    )
    latest = frame["as_of_date"].dt.year == frame["as_of_date"].dt.year.max()
    summary = (
        points.loc[latest]
        .groupby("stage", observed=True)["points_total"]
        .describe()[["count", "mean", "50%", "max"]]
    )
    console.print(summary.round(1).to_string())
    console.print(f"({time.perf_counter() - t:.1f} s)")

    t = _step(console, 4, "train the PD model out of time and register it in MLflow (alias challenger)")
    outcome = run_train(raw, settings=settings, console=console)
    console.print(f"({time.perf_counter() - t:.1f} s)")

    t = _step(console, 5, "promotion gate: challenger → champion")
    promotion = run_promote(raw, settings=settings, console=console)
    model_uri = f"models:/{settings.registry_model_name}@{'champion' if promotion.promoted else 'challenger'}"
    console.print(f"({time.perf_counter() - t:.1f} s)")

    t = _step(console, 6, f"score the latest cohort as a portfolio with {model_uri}")
    portfolio = root / "portfolio.parquet"
    write_table(frame.loc[latest].drop(columns=["default_12m"]), portfolio)
    paths["decisions"] = root / "decisions.parquet"
    paths["errors"] = root / "errors.csv"
    run_score(
        model=model_uri,
        in_path=portfolio,
        out_path=paths["decisions"],
        errors_path=paths["errors"],
        console=console,
    )
    console.print(f"({time.perf_counter() - t:.1f} s)")

    t = _step(
        console,
        7,
        "per-loan reports for approved, referred and declined firms (HTML, PDF, JSON; 中文, English)",
    )
    paths["reports"] = _sample_reports(paths["decisions"], root / "reports", model_uri, settings, console)
    console.print(f"({time.perf_counter() - t:.1f} s)")

    console.rule("[bold]done")
    console.print(
        f"whole run {time.perf_counter() - started:.0f} s; model {outcome.model_name} version {outcome.version}"
    )
    console.print(
        f"MLflow store: {settings.mlflow_uri}   (browse: mlflow ui --backend-store-uri {settings.mlflow_uri})"
    )
    for key, path in paths.items():
        console.print(f"  {key:<18} {path}")
    return paths
