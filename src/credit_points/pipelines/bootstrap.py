"""The ``bootstrap`` job: a team deployment's first model, once.

A fresh tracking server has no model, so a service pointed at ``models:/credit-points@champion`` would stay
unready until a person trains one. ``bootstrap`` generates a zone's panel, trains, gates and registers a
first champion — and does nothing when the registry already has one (a restarted init container, a
second ``docker compose up``). A refused gate is an error: the deployment must not serve an unvetted model.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from credit_points.config import Settings, get_settings
from credit_points.exceptions import ModelError

#: seconds the bootstrap waits for each tracking-server answer (the service keeps its short timeout)
BOOTSTRAP_TRACKING_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class BootstrapOutcome:
    """What ``bootstrap`` found or made."""

    version: str
    created: bool


def run_bootstrap(
    *,
    firms: int = 8000,
    seed: int = 7,
    alias: str = "champion",
    settings: Settings | None = None,
    console: Console | None = None,
) -> BootstrapOutcome:
    """The registry's ``alias`` version; when there is none, generate ``firms`` firms (2019–2024, ``seed``),
    train, and promote through the gate.

    Raises:
        ModelError: the gate refused the trained version (its failed criteria named).
    """
    from credit_points.pipelines.evaluate import run_promote
    from credit_points.pipelines.generate import write_panel
    from credit_points.pipelines.train import run_train
    from credit_points.tracking.registry import alias_version
    from credit_points.tracking.setup import configure_tracking

    settings = settings or get_settings()
    console = console or Console()
    # a one-shot job beside a tracking server that has just started: its first answers can take longer
    # than the serving path's fail-fast timeout, and nothing here has a local copy to fall back to
    configure_tracking(settings, timeout_s=max(settings.registry_timeout_s, BOOTSTRAP_TRACKING_TIMEOUT_S))
    name = settings.registry_model_name
    existing = alias_version(name, alias)
    if existing is not None:
        console.print(f"{name}@{alias} is version {existing}: nothing to do")
        return BootstrapOutcome(existing, created=False)
    raw = settings.data_dir / "bootstrap" / "raw"
    console.print(f"no {name}@{alias} in {settings.mlflow_uri}: generating {firms:,} firms (seed {seed})")
    write_panel(raw, n_firms=firms, years=(2019, 2024), seed=seed)
    trained = run_train(raw, settings=settings, console=console)
    promotion = run_promote(raw, settings=settings, console=console, promote_to=alias)
    if not promotion.promoted:
        failed = ", ".join(f"{c.name} ({c.detail})" for c in promotion.gate.failures)
        raise ModelError(f"version {trained.version} failed the promotion gate: {failed}")
    return BootstrapOutcome(trained.version, created=True)
