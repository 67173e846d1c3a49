"""The ``credit-points`` command line: thin Typer wrappers over ``pipelines``.

Each command group lives in its own module with a ``register(app)`` function. User errors
(:class:`~credit_points.exceptions.CreditPointsError`) print one line and exit 2; ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import sys
import traceback

import typer

from credit_points.exceptions import CreditPointsError

app = typer.Typer(
    name="credit-points",
    help="Innovation points, default risk and unsecured credit limits for technology SMEs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.")) -> None:
    """credit-points: 企业创新积分 → 违约概率 → 积分贷额度."""
    _state["debug"] = debug


def _register_all() -> None:
    from credit_points.cli import data, model, outcomes, pdcv, points, policy, reports, scoring, serving

    for module in (data, points, model, pdcv, scoring, outcomes, policy, reports, serving):
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        result = app(args=argv, standalone_mode=False, prog_name="credit-points")
        # In non-standalone mode click returns the code of ``typer.Exit(n)`` instead of raising it.
        if isinstance(result, int) and result != 0:
            raise SystemExit(result)
    except CreditPointsError as exc:
        if debug:
            traceback.print_exc()
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        typer.echo("aborted", err=True)
        raise SystemExit(130) from None
    except Exception as exc:  # usage errors (a bad option value) arrive here in non-standalone mode
        import click

        # typer carries its own copy of click: its usage errors are not click's
        if isinstance(exc, click.ClickException | typer.TyperException) and hasattr(exc, "format_message"):
            # one line: what was wrong, named as typed (--in, not in_path), and where the help is
            ctx = getattr(exc, "ctx", None)
            where = f" (see '{ctx.command_path if ctx is not None else 'credit-points'} --help')"
            typer.echo(f"error: {exc.format_message()}{where}", err=True)
            raise SystemExit(getattr(exc, "exit_code", 2)) from None
        raise


if __name__ == "__main__":
    main()
