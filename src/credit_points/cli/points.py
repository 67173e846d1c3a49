"""CLI commands: innovation points — score a file, build a reference table, explain one firm.

``credit-points points --in FILE --out FILE`` (or ``points score …``) scores applicants;
``points build-reference --in FIRMS --out REF`` pins a reference population; ``points explain --in FILE
--firm-id ID`` prints one firm's breakdown as a table in Chinese or English.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import pandas as pd

    from credit_points.points.config import PointsConfig
    from credit_points.points.reference import ReferenceTable

points_app = typer.Typer(
    help="Innovation points: score applicants, build a reference population, explain a firm.",
    invoke_without_command=True,
)

InPath = Annotated[Path, typer.Option("--in", help="Applicant file (.csv or .parquet).")]
ConfigName = Annotated[
    str, typer.Option("--config", help="Points profile name (configs/points/) or YAML path.")
]
Overlay = Annotated[
    list[Path] | None, typer.Option("--overlay", help="YAML merged over the profile (repeatable).")
]
RefPath = Annotated[
    Path | None, typer.Option("--reference", help="Pinned reference table (JSON); default: the input itself.")
]


def _load(in_path: Path) -> pd.DataFrame:
    """Read and validate applicants; bad rows are reported on stderr and left out of scoring."""
    from credit_points.datasets.io import read_table
    from credit_points.datasets.schema import validate_applicants

    raw = read_table(in_path)
    good, errors = validate_applicants(raw, path=str(in_path))
    if len(errors):
        bad = int(errors["row"].nunique())
        typer.echo(f"{in_path}: {bad:,} of {len(raw):,} rows have problems and are not scored:", err=True)
        for problem in errors.head(10).itertuples(index=False):
            typer.echo(f"{in_path}: row {problem.row}: {problem.field}: {problem.reason}", err=True)
    return good


def _setup(
    config: str, overlay: list[Path] | None, reference: Path | None
) -> tuple[PointsConfig, ReferenceTable | None]:
    from credit_points.points.config import load_points_config
    from credit_points.points.reference import ReferenceTable

    cfg = load_points_config(config, overlays=tuple(overlay or ()))
    ref = ReferenceTable.load(reference) if reference is not None else None
    return cfg, ref


def _rank_text(rank: Any) -> str:
    """A rank as a whole number, or a dash where the zone is unknown to the reference."""
    return "—" if rank is None or rank != rank else f"{int(rank):,}"


def _model_points(model: str | None) -> tuple[PointsConfig, ReferenceTable, str] | None:
    """The points config and pinned reference of ``model`` (default the serving model), or ``None``
    when the default model cannot be loaded (a named one that cannot be loaded is an error)."""
    from credit_points.config import get_settings
    from credit_points.pipelines.models import load_engine

    settings = get_settings()
    try:
        engine, resolved = load_engine(model or settings.model_uri, settings)
    except Exception:
        if model is not None:
            raise
        return None
    source = f"pinned in model {resolved.name} version {resolved.version}"
    return engine.points_config, engine.reference, source


def score(
    in_path: InPath,
    out: Annotated[Path, typer.Option("--out", help="Output file (.csv or .parquet).")],
    config: ConfigName = "torch-18",
    overlay: Overlay = None,
    reference: RefPath = None,
    keep: Annotated[
        str, typer.Option("--keep", help="Input columns copied to the output, comma-separated.")
    ] = "firm_id,as_of_date,zone",
    threads: Annotated[
        int, typer.Option("--threads", min=1, help="Threads for large files (same results).")
    ] = 1,
) -> None:
    """Score applicants: stage, points, category subtotals, per-indicator values, percentiles and points, ranks."""
    import pandas as pd

    from credit_points.datasets.io import write_table
    from credit_points.points.scorer import PointsScorer

    cfg, ref = _setup(config, overlay, reference)
    frame = _load(in_path)
    scored = PointsScorer(cfg, ref, threads=threads).score(frame)
    kept = [c for c in keep.split(",") if c and c in frame.columns]
    write_table(pd.concat([frame[kept], scored], axis=1), out)
    source = f"reference {reference}" if reference is not None else "the input as its own reference"
    typer.echo(
        f"scored {len(scored):,} firms with {cfg.profile} {cfg.version} against {source}: "
        f"mean {scored['points_total'].mean():.1f} points, {int(scored['veto'].sum()):,} vetoed → {out}"
    )


def build_reference(
    in_path: InPath,
    out: Annotated[Path, typer.Option("--out", help="Reference table to write (JSON).")],
    config: ConfigName = "torch-18",
    overlay: Overlay = None,
    label: Annotated[str, typer.Option("--label", help="Description stored in the table.")] = "",
) -> None:
    """Pin a reference population (a zone's scored firms of a year) as a per-stage quantile table."""
    from credit_points.points.scorer import build_reference as build

    cfg, _ = _setup(config, overlay, None)
    frame = _load(in_path)
    ref = build(frame, cfg, label=label or f"{in_path.name}")
    ref.save(out)
    counts = ", ".join(f"{s} {body['n_firms']:,}" for s, body in ref.stages.items())
    typer.echo(f"wrote reference of {len(frame):,} firms ({counts}) sha256 {ref.content_hash[:16]}… → {out}")


def explain(
    in_path: InPath,
    firm_id: Annotated[str, typer.Option("--firm-id", help="统一社会信用代码 of the firm.")],
    config: ConfigName = "torch-18",
    overlay: Overlay = None,
    reference: RefPath = None,
    lang: Annotated[str, typer.Option("--lang", help="zh or en.")] = "zh",
    k: Annotated[int, typer.Option("--k", min=0, help="Weak spots to show.")] = 3,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Model whose points config and pinned reference to use (default CREDIT_POINTS_MODEL_URI); "
            "--reference overrides it.",
        ),
    ] = None,
) -> None:
    """Print one firm's points breakdown: categories, indicators, bonus, deductions, vetoes, weak spots.

    The points and ranks are the engine's: the points config and the reference population pinned in the
    model (``--model``, default the serving model). Only when no model can be loaded, or with
    ``--reference``, another reference is used, and the command says which.
    """
    from rich.console import Console
    from rich.table import Table

    from credit_points.exceptions import DataValidationError
    from credit_points.points.diagnosis import weak_spots
    from credit_points.points.scorer import PointsScorer
    from credit_points.points.scorer import build_reference as build

    if lang not in ("zh", "en"):
        raise DataValidationError("expected zh or en", field="--lang", value=lang)
    cfg, ref = _setup(config, overlay, reference)
    frame = _load(in_path)
    if ref is not None:
        source = f"reference file {reference}"
    else:
        pinned = _model_points(model)
        if pinned is not None:
            cfg, ref, source = pinned
        else:
            ref = build(frame, cfg)
            source = (
                f"a reference built from this file's {len(frame):,} rows (no model could be loaded: "
                "these points are not the engine's; pass --model)"
            )
    typer.echo(f"reference: {source} (sha256 {ref.content_hash[:16]}…)")
    match = frame.index[frame["firm_id"] == firm_id]
    if len(match) == 0:
        raise DataValidationError(
            "no firm with this id in the file", field="firm_id", value=firm_id, path=str(in_path)
        )
    scored = PointsScorer(cfg, ref).score(frame)  # ranks need the whole population
    row = scored.loc[match[-1]]  # the latest record of the firm
    zh = lang == "zh"
    t = lambda a, b: a if zh else b  # noqa: E731
    console = Console()

    stage = cfg.label(str(row["stage"]), lang)
    head = Table(
        title=t("创新积分", "Innovation points") + f" · {cfg.profile} {cfg.version}", show_header=False
    )
    head.add_row(t("阶段", "Stage"), stage)
    head.add_row(t("总积分", "Total points"), f"{row['points_total']:.1f}")
    head.add_row(t("核心指标得分", "Core"), f"{row['points_core']:.1f} / {cfg.scale:g}")
    head.add_row(t("加分", "Bonus"), f"+{row['points_bonus']:.1f} ({t('上限', 'cap')} {cfg.bonus.cap:g})")
    head.add_row(
        t("减分", "Deductions"),
        f"-{row['points_deductions']:.1f} ({t('上限', 'cap')} {cfg.deductions.cap:g})",
    )
    vetoes = [cfg.label(v, lang) for v in str(row["veto_reasons"]).split(";") if v]
    head.add_row(t("一票否决", "Veto"), "; ".join(vetoes) if vetoes else t("无", "none"))
    head.add_row(
        t("园区排名 / 同阶段排名", "Rank in zone / in stage"),
        f"{_rank_text(row['rank_zone'])} / {_rank_text(row['rank_stage'])}",
    )
    console.print(head)

    table = Table(title=t("指标明细（同阶段比较）", "Indicators (compared within stage)"))
    for col in (t("类别", "Category"), t("指标", "Indicator"), t("数值", "Value"), t("同阶段百分位", "Stage percentile"),
                t("得分", "Points"), t("权重", "Weight")):  # fmt: skip
        table.add_column(col, justify="left" if col in ("类别", "Category", "指标", "Indicator") else "right")
    weights = cfg.stage_weight_matrix[cfg.stage_ids.index(str(row["stage"]))]
    for j, ind in enumerate(cfg.indicators):
        value = row[f"ind_{ind.id}_value"]
        pct = row[f"ind_{ind.id}_pct"]
        table.add_row(
            cfg.label(ind.category, lang), cfg.label(ind.id, lang), _show(value, ind.unit, zh),
            "—" if pct != pct else f"{pct:.0%}", f"{row[f'ind_{ind.id}_points']:.2f}", f"{weights[j]:.2f}",
        )  # fmt: skip
    for cat in cfg.categories:
        table.add_row(cfg.label(cat.id, lang), t("小计", "subtotal"), "", "", f"{row[f'points_cat_{cat.id}']:.2f}",
                      f"{cat.totals[str(row['stage'])]:g}", style="bold")  # fmt: skip
    console.print(table)

    items = Table(title=t("加分与减分（封顶前）", "Bonus and deductions (before the caps)"))
    items.add_column(t("项目", "Item"))
    items.add_column(t("分值", "Points"), justify="right")
    for prefix, group, sign in (("bonus_", cfg.bonus.items, "+"), ("deduction_", cfg.deductions.items, "-")):
        for item in group:
            if row[prefix + item.id]:
                items.add_row(item.label_zh if zh else item.label_en, f"{sign}{row[prefix + item.id]:.1f}")
    if items.row_count:
        console.print(items)

    if k:
        spots = weak_spots(frame.loc[[match[-1]]], scored.loc[[match[-1]]], cfg, ref, k=k)
        console.print(
            t(
                "短板（提升到同阶段中位数 / P75 可得分）:",
                "Weak spots (gain from reaching the stage median / P75):",
            )
        )
        for text in spots["text_zh" if zh else "text_en"]:
            console.print(f"  • {text}")
        if not len(spots):
            console.print(t("  无", "  none"))


def _show(value: float, unit: str, zh: bool) -> str:
    if value != value:
        return "缺失" if zh else "missing"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit in ("yuan", "yuan_per_person"):
        return f"{value / 1e4:,.1f}万元" if zh else f"CNY {value:,.0f}"
    if unit in ("count", "tier", "flag", "days"):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


@points_app.callback()
def _points(
    ctx: typer.Context,
    in_path: Annotated[
        Path | None, typer.Option("--in", help="Score this file (same as `points score --in`).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file when scoring without a subcommand.")
    ] = None,
    config: ConfigName = "torch-18",
    overlay: Overlay = None,
    reference: RefPath = None,
) -> None:
    """Innovation points. Without a subcommand, ``--in FILE --out FILE`` scores the file."""
    if ctx.invoked_subcommand is not None:
        return
    if in_path is None or out is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0 if in_path is None and out is None else 2)
    score(in_path, out, config=config, overlay=overlay, reference=reference)


points_app.command("score")(score)
points_app.command("build-reference")(build_reference)
points_app.command("explain")(explain)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(points_app, name="points")
