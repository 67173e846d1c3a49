"""The decision API (FastAPI): thin routes, schemas, auth, dependencies; ``create_app`` is in :mod:`.app`."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """``create_app`` on first use (importing the package does not import FastAPI)."""
    if name == "create_app":
        from credit_points.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
