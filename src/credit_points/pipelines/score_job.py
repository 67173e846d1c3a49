"""The ``score`` job: resolve the model, stream the file through the engine, print the portfolio summary."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from credit_points.config import get_settings
from credit_points.exceptions import DataValidationError, ModelError
from credit_points.pipelines.common import progress_bar
from credit_points.pipelines.models import load_engine
from credit_points.pipelines.score import BatchAudit, PortfolioSummary, score_file

if TYPE_CHECKING:
    from credit_points.audit.store import AuditStore


def default_errors_path(out_path: Path) -> Path:
    """Where bad rows go when ``--errors`` is not given: beside the decisions (``<out>.errors.csv``), so a
    bad row is never lost."""
    out_path = Path(out_path)
    return out_path.with_name(f"{out_path.stem}.errors.csv")


def print_summary(
    summary: PortfolioSummary, console: Console | None = None, errors_path: Path | None = None
) -> None:
    """Portfolio summary overall, by stage and by product, as rich tables."""
    console = console or Console()
    for by in (None, "stage", "product"):
        frame = summary.table(by)
        table = Table(title=f"portfolio{' by ' + by if by else ''}", title_justify="left")
        table.add_column(by or "")
        for col in (
            "applicants",
            "approval %",
            "refer %",
            "limit (万元)",
            "EL net (万元)",
            "EL rate %",
            "avg rate %",
        ):
            table.add_column(col, justify="right")
        for key, row in frame.iterrows():
            table.add_row(
                str(key),
                f"{int(row['applicants']):,}",
                f"{100 * row['approval_rate']:.1f}",
                f"{100 * row['refer_rate']:.1f}",
                f"{row['total_limit'] / 1e4:,.0f}",
                f"{row['expected_loss_net'] / 1e4:,.1f}",
                "-" if row["el_rate"] != row["el_rate"] else f"{100 * row['el_rate']:.2f}",
                "-" if row["avg_rate"] != row["avg_rate"] else f"{100 * row['avg_rate']:.2f}",
            )
        console.print(table)
    if summary.bad_rows:
        where = f"each with its reasons in {errors_path}" if errors_path else "see the errors file"
        console.print(f"[yellow]{summary.bad_rows} bad row(s) were not scored; {where}[/yellow]")


def run_score(
    *,
    model: str,
    in_path: Path,
    out_path: Path,
    errors_path: Path | None = None,
    chunk_rows: int = 100_000,
    engine: str = "local",
    scheduler: str | None = None,
    explain: str = "adverse",
    drop_unknown_columns: bool = False,
    audit_store: AuditStore | None = None,
    shadow: str | None = None,
    console: Console | None = None,
    threads: int | None = None,
) -> PortfolioSummary:
    """Score ``in_path`` with ``model``; write decisions and errors (``<out>.errors.csv`` unless
    ``errors_path`` says otherwise); print and return the summary.

    The file's columns are checked before any scoring (``pipelines.score.columns_to_drop``): an outcome
    column or an unknown one refuses the run, unless ``drop_unknown_columns`` drops (and lists) the latter.
    With ``audit_store``, every decision is recorded there as the API records its own (``BatchAudit``):
    only a registry version decides then, with the local engine and the API's explanations. ``shadow``
    (a registry version) decides the same rows too, into the shadow table beside the audit log: it never
    changes a decision, the chain or the output. ``threads`` (local engine; default the
    ``lightgbm_threads`` setting): LightGBM's, and a chunk of ``engine.PARALLEL_MIN_ROWS`` rows or more is
    decided in that many row slices in parallel, with the same decisions.
    """
    console = console or Console()
    errors_path = errors_path or default_errors_path(out_path)
    if audit_store is not None:
        refusal = (
            "--audit decides with --engine local (one process writes the audit chain)" if engine != "local"
            else "--audit explains decisions as the API does: leave --explain at adverse" if explain != "adverse"
            else None
        )  # fmt: skip
        if refusal is not None:
            raise DataValidationError(refusal, field="--audit")
    if engine == "dask":
        from credit_points.pipelines.dask_score import run_dask_score

        summary = run_dask_score(
            model=model,
            in_path=in_path,
            out_path=out_path,
            errors_path=errors_path,
            scheduler=scheduler,
            explain=explain,
            drop_unknown_columns=drop_unknown_columns,
        )
    else:
        from credit_points.datasets.io import count_rows

        decision_engine, resolved = load_engine(model, get_settings())
        if threads is not None:
            decision_engine.set_threads(threads)
        console.print(
            f"model {resolved.name} version {resolved.version} ({resolved.source}), artifact {resolved.artifact_hash[:12]}"
        )
        audit = None
        if audit_store is not None:
            audit = BatchAudit(audit_store, request_id=f"score-{uuid.uuid4().hex}")
            if not resolved.registered:
                raise ModelError(
                    f"--audit records only registry versions (models:/NAME/VERSION or @ALIAS): decisions of "
                    f"{model!r} (version {resolved.version!r}) could not be replayed"
                )
            if shadow is not None:
                from credit_points.audit.shadow import ShadowStore

                audit.shadow, shadowed = load_engine(shadow, get_settings())
                if not shadowed.registered:
                    raise ModelError(f"--shadow takes a registry version, not {shadow!r}")
                ShadowStore(audit_store).create_schema()
                console.print(
                    f"shadow: {shadowed.name} version {shadowed.version}, artifact {shadowed.artifact_hash[:12]}"
                )
        total = count_rows(in_path)
        with progress_bar("scoring", console) as bar:
            task = bar.add_task("score", total=total)
            summary = score_file(
                decision_engine,
                in_path,
                out_path,
                errors_path=errors_path,
                chunk_rows=chunk_rows,
                explain=explain,
                progress=lambda n: bar.advance(task, n),
                drop_unknown_columns=drop_unknown_columns,
                audit=audit,
            )
    if summary.dropped_columns:
        console.print(f"dropped unknown column(s), not decided on: {', '.join(summary.dropped_columns)}")
    print_summary(summary, console, errors_path)
    if audit_store is not None:
        console.print(
            f"audit: {summary.audited_new:,} decision(s) recorded, {summary.audited_existing:,} already recorded "
            f"(same application, input, model version and policy) in {audit_store.safe_url}"
        )
        if audit is not None and audit.shadow is not None:
            console.print(f"shadow: {audit.shadow_rows:,} shadow decision(s) recorded")
    console.print(f"decisions: {out_path}\nerrors: {errors_path}")
    return summary
