"""CLI commands: serving — ``serve``, ``apikey create/list/revoke``, ``audit init/verify/replay/shadow``."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from typing import Any

import typer

from credit_points.exceptions import AuditError

apikey_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
audit_app = typer.Typer(
    help="The decision audit store: init (create the tables), verify the hash chain, replay decisions, "
    "decide audited decisions in shadow.",
    no_args_is_help=True,
)

_AUDIT_URL = typer.Option(
    None,
    "--audit-url",
    help="SQLAlchemy URL of the audit store (default: CREDIT_POINTS_AUDIT_URL or data/audit.db).",
)


def open_store(audit_url: str | None, *, create: bool = False):  # noqa: ANN201 - lazy import keeps --help fast
    """The audit store at ``audit_url`` (default: the API's setting), its schema created when ``create``."""
    from credit_points.api.settings import ApiSettings
    from credit_points.audit.store import AuditStore

    settings = ApiSettings()
    url = audit_url or settings.audit_db_url
    if url.startswith("sqlite:///") and create:
        path = url.removeprefix("sqlite:///")
        if path and not path.startswith("file:"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    store = AuditStore(
        url, table_prefix=settings.audit_table_prefix, connect_timeout_s=settings.audit_timeout_s
    )
    if create:
        store.create_schema()
    return store


def serve(
    host: str = typer.Option(
        None, "--host", help="Address to bind (default CREDIT_POINTS_HOST or 127.0.0.1)."
    ),
    port: int = typer.Option(None, "--port", help="Port (default CREDIT_POINTS_PORT or 8000)."),
    workers: int = typer.Option(
        None, "--workers", help="Worker processes (default CREDIT_POINTS_WORKERS or 2)."
    ),
) -> None:
    """Run the decision API with uvicorn (uvloop + httptools; SIGTERM drains in-flight requests)."""
    import uvicorn

    from credit_points.api.redaction import install_log_redaction, uvicorn_log_config
    from credit_points.api.settings import ApiSettings

    settings = ApiSettings()
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    install_log_redaction()
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # every worker writes its metrics here and /metrics sums them
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="credit-points-metrics-")
    # one LightGBM/OpenMP thread per worker process: scale with processes, not threads
    os.environ.setdefault("OMP_NUM_THREADS", str(settings.lightgbm_threads))
    uvicorn.run(
        "credit_points.api.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_config=uvicorn_log_config(settings.log_level.upper()),
        timeout_graceful_shutdown=int(settings.graceful_timeout_s),
        timeout_keep_alive=int(settings.keep_alive_s),
        server_header=False,
        date_header=True,
    )


@apikey_app.command("create")
def apikey_create(
    name: str = typer.Option(..., "--name", help="Who the key is for (e.g. core-banking)."),
    scopes: str = typer.Option(
        ...,
        "--scopes",
        help="Comma-separated: decision:write, decision:read, report:read, decision:override, decision:approve, admin.",
    ),
    audit_url: str | None = _AUDIT_URL,
) -> None:
    """Create a key and print it once: only its SHA-256 is stored, it cannot be shown again."""
    from credit_points.audit.keys import ApiKeyStore

    key, plaintext = ApiKeyStore(open_store(audit_url, create=True)).create(name, scopes)
    typer.echo(f"created key {key.key_id} ({key.name}; scopes {','.join(key.scopes)})", err=True)
    typer.echo("store it now: it is shown only this once", err=True)
    typer.echo(plaintext)


@apikey_app.command("list")
def apikey_list(
    audit_url: str | None = _AUDIT_URL,
    active_only: bool = typer.Option(False, "--active", help="Hide revoked keys."),
) -> None:
    """List keys (id, name, scopes, created, revoked); never the keys themselves."""
    from credit_points.audit.keys import ApiKeyStore

    keys = ApiKeyStore(open_store(audit_url, create=True)).list(include_revoked=not active_only)
    typer.echo(f"{'key_id':<14}{'name':<24}{'created_at':<27}{'revoked_at':<27}scopes")
    for k in keys:
        typer.echo(
            f"{k.key_id:<14}{k.name:<24}{k.created_at:<27}{k.revoked_at or '-':<27}{','.join(k.scopes)}"
        )


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: str | None = typer.Option(None, "--key-id", help="The key id shown by `apikey list`."),
    name: str | None = typer.Option(None, "--name", help="Revoke every active key of this name."),
    audit_url: str | None = _AUDIT_URL,
) -> None:
    """Revoke a key by id, or every active key of a name; exit 1 if none was active."""
    from credit_points.audit.keys import ApiKeyStore

    n = ApiKeyStore(open_store(audit_url, create=True)).revoke(key_id=key_id, name=name)
    typer.echo(f"revoked {n} key(s)")
    if n == 0:
        raise typer.Exit(1)


@audit_app.command("init")
def audit_init(audit_url: str | None = _AUDIT_URL) -> None:
    """Create the audit tables and their append-only triggers (safe to repeat)."""
    store = open_store(audit_url, create=True)
    typer.echo(f"audit store ready at {store.safe_url}")


@audit_app.command("verify")
def audit_verify(
    audit_url: str | None = _AUDIT_URL,
    head_seq: int | None = typer.Option(None, "--head-seq", help="A published head: its seq ..."),
    head_hash: str | None = typer.Option(
        None, "--head-hash", help="... and its row_hash (detects a cut tail)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Walk the hash chain; print the first altered row and exit 1 if the chain does not verify."""
    store = open_store(audit_url)
    expected = (head_seq, head_hash) if head_seq is not None and head_hash is not None else None
    result = store.verify(expected_head=expected)
    if as_json:
        typer.echo(json.dumps(asdict(result)))
    elif result.ok:
        typer.echo(f"ok: {result.rows_checked} rows verified; head {result.head_hash}")
    else:
        typer.echo(
            f"FAILED at seq {result.first_bad_seq} (decision {result.first_bad_decision_id}): {result.reason}; "
            f"{result.rows_checked} rows before it verified",
            err=True,
        )
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("replay")
def audit_replay(
    decision_id: str = typer.Argument(..., metavar="DECISION_ID", help="The decision to re-decide."),
    audit_url: str | None = _AUDIT_URL,
    service_factory: str | None = typer.Option(
        None,
        "--service",
        help="'module:callable' building the DecisionService (default CREDIT_POINTS_SERVICE_FACTORY).",
    ),
    pd_tolerance: float = typer.Option(1e-12, "--pd-tolerance", help="Largest accepted PD difference."),
) -> None:
    """Re-decide a stored decision from its stored input and pinned artifacts; list differences, exit 1 if any."""
    from credit_points.api.service import UnavailableService, load_service
    from credit_points.api.settings import ApiSettings
    from credit_points.audit.replay import replay_decision

    settings = ApiSettings()
    service = load_service(settings, service_factory or settings.service_factory)
    if isinstance(service, UnavailableService):
        raise AuditError(f"cannot replay: {service.reason}")
    store = open_store(audit_url)
    result = replay_decision(store, decision_id, service.replay, pd_tolerance=pd_tolerance)
    _echo_override_steps(store, decision_id)
    for diff in result.explained:
        stored, replayed = (json.dumps(v, ensure_ascii=False) for v in (diff.stored, diff.replayed))
        typer.echo(
            f"  explained by the decision-logic upgrade: {diff.path}: stored {stored} -> replayed {replayed}"
        )
    if result.matches:
        upgraded = " apart from the upgrade's explained changes" if result.explained else ""
        typer.echo(f"ok: decision {decision_id} replays identically{upgraded} (PD within {pd_tolerance:g})")
        return
    typer.echo(f"DIFFERENT: decision {decision_id} ({len(result.differences)} difference(s))", err=True)
    for diff in result.differences:
        if diff.path == "input" or diff.path.startswith(("input.", "input[")):
            typer.echo(f"  {diff.path}: differs (applicant values withheld)")
            continue
        stored, replayed = (json.dumps(v, ensure_ascii=False) for v in (diff.stored, diff.replayed))
        typer.echo(f"  {diff.path}: stored {stored} -> replayed {replayed}")
    raise typer.Exit(1)


def _echo_override_steps(store: Any, decision_id: str) -> None:
    """The original decision, each override step after it (who, what from what to what, status) and the
    decision in force: what a replay of an overridden decision must show beside the re-decided record."""
    from credit_points.audit.overrides import in_force_and_history

    row = store.get(decision_id)
    steps = store.overrides_of(decision_id) if row is not None and row.kind == "decision" else []
    if not steps:
        return
    record = row.record
    typer.echo(
        f"original: {record.get('decision')} limit {(record.get('limit') or {}).get('limit') or 0:.0f} "
        f"({row.created_at})"
    )
    history = in_force_and_history(row, steps)
    for step in history["history"]:
        actor = (step.get("actor") or {}).get("owner")
        if step["kind"] == "review":
            typer.echo(f"  {step['created_at']} review {step['verdict']} of {step['review_of']} by {actor}")
            continue
        before, after = step.get("before") or {}, step.get("after") or step.get("new_values") or {}
        change = ", ".join(
            f"{k} {before.get(k, '?')} -> {after.get(k)}" for k in ("decision", "limit") if k in after
        )
        typer.echo(
            f"  {step['created_at']} override {step['id']} by {actor} ({step.get('reason_code') or 'no code'}): "
            f"{change} [{step['status']}]"
        )
    state = history["in_force"]
    typer.echo(f"in force: {state['decision']} limit {state['limit']:.0f}")


@audit_app.command("shadow")
def audit_shadow(
    model: str = typer.Option(
        ...,
        "--model",
        help="The challenger: models:/NAME@ALIAS or models:/NAME/VERSION (a registry version).",
    ),
    since: str | None = typer.Option(None, "--since", help="First decision date (YYYY-MM-DD), included."),
    until: str | None = typer.Option(None, "--until", help="Last decision date (YYYY-MM-DD), included."),
    decided_by: str | None = typer.Option(
        None, "--decided-by", help="Only decisions of this model version (default: every version)."
    ),
    audit_url: str | None = _AUDIT_URL,
) -> None:
    """Decide in shadow, with a challenger, every audited decision of a window that has no shadow decision
    of that version yet (from the inputs the audit rows stored): what the service's shadow shed under
    load, or the traffic before the challenger existed. The chain is only read; re-running adds nothing.
    Exit 1 if a decision could not be decided (stored with its error)."""
    from rich.console import Console

    from credit_points.cli.options import option_date
    from credit_points.config import get_settings
    from credit_points.exceptions import ModelError
    from credit_points.pipelines.common import progress_bar
    from credit_points.pipelines.models import load_engine
    from credit_points.pipelines.shadow import fill_shadow

    first, last = option_date(since, "--since"), option_date(until, "--until")
    if first and last and first > last:
        raise typer.BadParameter(f"--since {since} is after --until {until}", param_hint="--since")
    console = Console()
    engine, resolved = load_engine(model, get_settings())
    if not resolved.registered:
        raise ModelError(f"--model takes a registry version (models:/NAME/VERSION or @ALIAS), not {model!r}")
    store = open_store(audit_url)
    console.print(
        f"shadow: {resolved.name} version {resolved.version}, artifact {resolved.artifact_hash[:12]}"
    )
    with progress_bar("audit rows", console) as bar:
        task = bar.add_task("read", total=store.head()[0])
        done = fill_shadow(
            store,
            engine,
            since=first,
            until=last,
            decided_by=decided_by,
            progress=lambda n: bar.advance(task, n),
        )
    window = f"{done.since or 'the first'} to {done.until or 'the last'} decision date"
    console.print(
        f"{done.in_window:,} audited decision(s) from {window}"
        + (f" by version {done.decided_by}" if done.decided_by else "")
        + f": {done.already:,} had a shadow decision of version {done.version} already, {done.decided:,} "
        f"decided now, {done.errors:,} could not be decided"
    )
    if done.errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("serve")(serve)
    app.add_typer(apikey_app, name="apikey")
    app.add_typer(audit_app, name="audit")
