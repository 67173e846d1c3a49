"""CLI commands: pd-cv (model selection by cross-validation on any tabular credit data)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
