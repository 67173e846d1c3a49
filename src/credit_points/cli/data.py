"""CLI commands: configuration checks, data generation and validation."""

from __future__ import annotations

import json
from pathlib import Path

import typer

config_app = typer.Typer(help="Check configuration files.", no_args_is_help=True)


@config_app.command("validate")
def config_validate(paths: list[Path] = typer.Argument(..., help="YAML files or folders of them.")) -> None:
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
def config_schema(kind: str = typer.Argument("points", help="Which configuration: fields, points, pd_model, policy, reason_codes.")) -> None:
    """Print the JSON schema of one kind of configuration file."""
    from credit_points.config import model_for_kind

    typer.echo(json.dumps(model_for_kind(kind).model_json_schema(), indent=2, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(config_app, name="config")
