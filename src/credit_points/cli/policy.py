"""CLI commands: the lending policy — ``policy simulate`` (what a change would do) and ``policy apply``."""

from __future__ import annotations

from pathlib import Path

import typer

from credit_points.cli.options import option_date

policy_app = typer.Typer(
    help="The lending policy: simulate a change on real applicants, then apply it.", no_args_is_help=True
)


@policy_app.command("simulate")
def policy_simulate(
    policy_file: Path = typer.Argument(
        ..., metavar="FILE", help="The proposed policy (a policy YAML, or an overlay of the one in force)."
    ),
    in_path: Path | None = typer.Option(None, "--in", help="Applicants, CSV or Parquet."),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Instead of --in: the audited decisions from this date (YYYY-MM-DD), from their stored inputs.",
    ),
    until: str | None = typer.Option(None, "--until", help="With --since: the last decision date, included."),
    model: str = typer.Option(
        "models:/credit-points@champion",
        "--model",
        help="The model whose policy is in force (models:/NAME@ALIAS or /VERSION).",
    ),
    out: Path = typer.Option(Path("policy-simulation"), "--out", help="Folder for the tables."),
    audit_url: str | None = typer.Option(
        None,
        "--audit-url",
        help="With --since/--until: the audit store (default: CREDIT_POINTS_AUDIT_URL or data/audit.db).",
    ),
) -> None:
    """Decide the same applicants under the policy in force and under FILE, registering nothing: rates,
    total limit and expected loss by stage and product, the swap set (swap-ins' expected loss extrapolated)
    and the firms whose decision, product or limit changed. The model is scored once. Exit 1 if rows were
    refused (listed in OUT/errors.csv; the rest are simulated)."""
    from rich.console import Console

    from credit_points.config import get_settings
    from credit_points.pipelines.models import load_engine
    from credit_points.pipelines.policy_sim import load_proposed_policy, read_applicants, read_audited

    first, last = option_date(since, "--since"), option_date(until, "--until")
    if in_path is None and first is None and last is None:
        raise typer.BadParameter(
            "give --in FILE, or --since/--until to replay audited decisions", param_hint="--in"
        )
    if in_path is not None and (first or last):
        raise typer.BadParameter("--in and --since/--until are exclusive", param_hint="--in")
    console = Console()
    engine, resolved = load_engine(model, get_settings())
    proposed = load_proposed_policy(policy_file, engine.policy)
    if in_path is not None:
        frame, errors = read_applicants(engine, in_path)
        source = str(in_path)
    else:
        from credit_points.cli.serving import open_store

        frame, errors = read_audited(engine, open_store(audit_url), since=first, until=last)
        source = f"audited decisions from {first or 'the first'} to {last or 'the last'} decision date"
    from credit_points.pipelines.policy_sim import simulate_policy

    simulation = simulate_policy(engine, proposed, frame, proposed_where=str(policy_file))
    paths = simulation.write(out)
    if len(errors):
        errors.to_csv(out / "errors.csv", index=False)
    _print_summary(console, simulation, resolved, source, len(errors), paths)
    if len(errors):
        raise typer.Exit(1)


@policy_app.command("apply")
def policy_apply(
    policy_file: Path = typer.Argument(
        ...,
        metavar="FILE",
        help="The policy to put in force (a policy YAML, or an overlay of the one in force).",
    ),
    model: str = typer.Option(
        "models:/credit-points@champion",
        "--model",
        help="The model to register with it (models:/NAME@ALIAS or /VERSION).",
    ),
    data: Path | None = typer.Option(
        None, "--data", help="Outcomes the gate judges on; default <home>/data/raw."
    ),
    applied_by: str | None = typer.Option(
        None,
        "--by",
        help="Who applies the change (recorded on the run and the version); default the login name.",
    ),
    gate: Path | None = typer.Option(
        None, "--gate", help="Promotion gate config (default configs/promotion.yaml)."
    ),
) -> None:
    """Register the model in force with the policy of FILE as a new version (old and new policy hashes, who
    applied it), through the promotion gate; on a pass it becomes @champion. Exit 1 if the gate refuses,
    each failed criterion named. The same model and policy make no new version."""
    from credit_points.pipelines.policy_apply import run_policy_apply

    outcome = run_policy_apply(
        policy_file, model_uri=model, data=data, applied_by=applied_by, gate_config=gate
    )
    raise typer.Exit(outcome.exit_code)


def _print_summary(console, simulation, resolved, source: str, refused: int, paths) -> None:  # noqa: ANN001
    h = simulation.headline
    cur, new = h["current"], h["proposed"]
    console.print(
        f"model {resolved.name} version {resolved.version}; policy in force {simulation.current['version']} "
        f"({simulation.current['hash'][:12]}) against {simulation.proposed['where']} "
        f"{simulation.proposed['version']} ({simulation.proposed['hash'][:12]})"
    )
    console.print(
        f"{simulation.rows:,} applicants ({source})"
        + (f"; {refused:,} refused (errors.csv)" if refused else "")
    )
    console.print(
        f"approval {cur['approval_rate']:.1%} -> {new['approval_rate']:.1%}, refer {cur['refer_rate']:.1%} -> "
        f"{new['refer_rate']:.1%}, total limit {cur['total_limit']:,.0f} -> {new['total_limit']:,.0f}, "
        f"expected loss {cur['expected_loss_net']:,.0f} -> {new['expected_loss_net']:,.0f}"
    )
    ins, outs, moved = h["swap-in"], h["swap-out"], h["limit_changes"]
    console.print(
        f"swap-ins {ins['firms']:,} (expected loss {ins['expected_loss_proposed']:,.0f}, extrapolated: never observed), "
        f"swap-outs {outs['firms']:,}; approved under both: {moved['down']:,} limit(s) lower, {moved['up']:,} higher "
        f"({moved['total_change']:+,.0f})"
    )
    console.print(
        f"{h['changed_firms']:,} firm(s) changed: {paths['changed']}; tables in {paths['summary'].parent}"
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(policy_app, name="policy")
