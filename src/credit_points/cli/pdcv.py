"""CLI commands: pd-cv (model selection by cross-validation on any tabular credit data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from credit_points.exceptions import DataValidationError


def _read_table(path: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    if not path.is_file():
        raise DataValidationError("file not found", path=str(path))
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    if suffix in {".json", ".jsonl"}:
        return pd.read_json(path, lines=suffix == ".jsonl")
    if suffix in {".tsv", ".tab"}:
        return pd.read_csv(path, sep="\t")
    if suffix == ".csv":
        return pd.read_csv(path)
    return pd.read_csv(path, sep=None, engine="python")


def pd_cv(
    data: Annotated[Path, typer.Option("--data", help="CSV, Parquet or JSON file with one row per loan.")],
    target: Annotated[str, typer.Option("--target", help="The outcome column.")],
    bad_value: Annotated[
        str | None, typer.Option("--bad-value", help="Target value meaning default (else inferred).")
    ] = None,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Stratified folds.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Fold and model seed.")] = 0,
    config: Annotated[str, typer.Option("--config", help="PD model profile name or YAML path.")] = "default",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: auc, ks, brier, folds, per_fold.")
    ] = False,
    linear: Annotated[
        bool | None,
        typer.Option(
            "--linear/--no-linear",
            help="Offer the sign-constrained logistic regression as a third candidate (default: the profile's).",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", min=1, help="Folds fitted at once, one process each (default: one per core)."),
    ] = None,
) -> None:
    """Cross-validate the product's PD model selection on any tabular credit data."""
    from credit_points.pd_model.config import load_pd_config
    from credit_points.pd_model.generic import cross_validate_pd

    frame = _read_table(data)
    pd_config = load_pd_config(config)
    if linear is not None:
        selection = pd_config.selection.model_copy(update={"linear": linear})
        pd_config = pd_config.model_copy(update={"selection": selection})
    result = cross_validate_pd(
        frame, target, bad_value=bad_value, folds=folds, seed=seed, config=pd_config, jobs=jobs
    )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(
        f"{data.name}: {result['n']} rows, bad = {result['bad_label']!r} ({result['bad_rate']:.1%}), {folds} folds"
    )
    typer.echo(f"{'fold':>4} {'AUC':>7} {'KS':>7} {'Brier':>7} {'w_lgbm':>7} {'w_lin':>7}")
    for f in result["per_fold"]:
        typer.echo(
            f"{f['fold']:>4} {f['auc']:7.4f} {f['ks']:7.4f} {f['brier']:7.4f} {f['blend_weight']:7.2f} "
            f"{f['linear_weight']:7.2f}"
        )
    typer.echo(f"{'mean':>4} {result['auc']:7.4f} {result['ks']:7.4f} {result['brier']:7.4f}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("pd-cv")(pd_cv)
