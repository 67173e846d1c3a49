"""CLI commands: configuration checks, data generation and validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_OUT = Path("data/synthetic")

config_app = typer.Typer(help="Check configuration files.", no_args_is_help=True)


@config_app.command("validate")
def config_validate(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="YAML files or folders of them.")],
) -> None:
    """Validate config files; print every problem with its file and key; exit 1 if any."""
    from credit_points.config import validate_file

    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.y*ml")) if path.is_dir() else [path])
    problems = 0
    for file in files:
        lines = validate_file(file)
        problems += len(lines)
        if lines:
            for line in lines:
                typer.echo(line, err=True)
        else:
            typer.echo(f"{file}: ok")
    if problems:
        typer.echo(f"{problems} problem(s) in {len(files)} file(s)", err=True)
        raise typer.Exit(1)


@config_app.command("schema")
def config_schema(
    kind: str = typer.Argument(
        "points", help="Which configuration: fields, points, pd_model, policy, reason_codes."
    ),
) -> None:
    """Print the JSON schema of one kind of configuration file."""
    from credit_points.config import model_for_kind

    typer.echo(json.dumps(model_for_kind(kind).model_json_schema(), indent=2, ensure_ascii=False))


def parse_years(text: str) -> tuple[int, int]:
    """``"2019-2024"`` → ``(2019, 2024)``; a single year ``"2022"`` → ``(2022, 2022)``.

    Examples:
        >>> parse_years("2019-2024"), parse_years("2022")
        ((2019, 2024), (2022, 2022))
    """
    from credit_points.exceptions import DataValidationError

    parts = text.strip().split("-")
    try:
        first, last = (int(parts[0]), int(parts[-1])) if len(parts) in (1, 2) else (0, -1)
    except ValueError:
        first, last = 0, -1
    if len(parts) not in (1, 2) or last < first:
        raise DataValidationError("expected YEAR or FIRST-LAST, e.g. 2019-2024", field="--years", value=text)
    return first, last


def generate(
    firms: Annotated[
        int, typer.Option("--firms", min=1, help="Firms in the panel (about 4 firm-years each over 6 years).")
    ] = 10_000,
    years: Annotated[str, typer.Option("--years", help="First-last year, inclusive.")] = "2019-2024",
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; the same seed writes identical files.")
    ] = 0,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = DEFAULT_OUT,
    zone: Annotated[
        str | None, typer.Option("--zone", help="Only this zone (an id from configs/generator.yaml).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Generator parameters (default configs/generator.yaml), e.g. its drift."
        ),
    ] = None,
) -> None:
    """Generate a synthetic firm-year panel: applicants.parquet, truth.parquet, manifest.json."""
    from credit_points.datasets.generator_config import load_generator_config
    from credit_points.pipelines.generate import write_panel

    first_last = parse_years(years)
    generator = load_generator_config(str(config) if config else None)
    paths = write_panel(out, firms, first_last, seed, zone=zone, config=generator)
    manifest = json.loads(paths["manifest"].read_text(encoding="utf-8"))
    typer.echo(
        f"wrote {manifest['rows']['applicants']:,} firm-years of {firms:,} firms "
        f"(default rate {manifest['default_rate']:.2%}) to {out}"
    )
    for name in ("applicants", "truth", "manifest"):
        typer.echo(f"  {name}: {paths[name]}")


def validate(
    in_path: Annotated[Path, typer.Option("--in", help="Applicant file (.csv or .parquet).")],
    errors_path: Annotated[
        Path | None, typer.Option("--errors", help="Write one row per problem here (.csv or .parquet).")
    ] = None,
    require_outcome: Annotated[
        bool, typer.Option("--require-outcome", help="The file must carry default_12m.")
    ] = False,
    today: Annotated[
        str | None, typer.Option("--today", help="Reference date for 'not in the future' (default today).")
    ] = None,
    show: Annotated[int, typer.Option("--show", min=0, help="How many problems to print.")] = 10,
) -> None:
    """Validate applicant rows; print a summary; exit 1 when any row is bad."""
    from credit_points.datasets.io import read_table, write_table
    from credit_points.datasets.schema import validate_applicants

    raw = read_table(in_path)
    good, errors = validate_applicants(raw, today=today, require_outcome=require_outcome, path=str(in_path))
    bad_rows = int(errors["row"].nunique())
    typer.echo(
        f"{in_path}: {len(raw):,} rows, {len(good):,} good, {bad_rows:,} bad, {len(errors):,} problems"
    )
    if len(errors):
        typer.echo("problems by field:")
        for field, count in errors["field"].value_counts().items():
            typer.echo(f"  {field}: {count:,}")
        # Values are left out of the console: they may be identities (credit codes, names).
        for problem in errors.head(show).itertuples(index=False):
            typer.echo(f"{in_path}: row {problem.row}: {problem.field}: {problem.reason}", err=True)
    if errors_path is not None:
        write_table(errors, errors_path)
        typer.echo(f"wrote {len(errors):,} problems to {errors_path}")
    if bad_rows:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(config_app, name="config")
    app.command("generate")(generate)
    app.command("validate")(validate)
