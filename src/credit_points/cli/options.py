"""Option parsing shared by the command groups."""

from __future__ import annotations

import datetime as dt

import typer


def option_date(value: str | None, option: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` option's date (``None`` stays ``None``); anything else a usage error naming the option."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not a date: {value!r}", param_hint=option) from None
