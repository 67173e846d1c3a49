"""Errors the product raises: each names what is wrong and where (file, row, field, value)."""

from __future__ import annotations

from typing import Any


class CreditPointsError(Exception):
    """Base class of every error the product raises on purpose (user errors, not bugs)."""


class ConfigError(CreditPointsError, ValueError):
    """A configuration file is missing, unreadable or invalid.

    Args:
        message: what is wrong.
        path: the file.
        location: the key path inside the file (e.g. ``indicators.3.weight``).
    """

    def __init__(self, message: str, *, path: str | None = None, location: str | None = None) -> None:
        self.message = message
        self.path = path
        self.location = location
        where = ": ".join(part for part in (path, location) if part)
        super().__init__(f"{where}: {message}" if where else message)


class DataValidationError(CreditPointsError, ValueError):
    """Input data breaks its contract.

    Args:
        message: what is wrong.
        field: the column or field.
        value: the offending value (never logged for identity fields).
        row: the 1-based row number in the input file, when there is one.
        path: the file, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        row: int | None = None,
        path: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.row = row
        self.path = path
        parts = [p for p in (path, f"row {row}" if row is not None else None, field) if p]
        super().__init__(f"{': '.join(parts)}: {message}" if parts else message)


class ModelError(CreditPointsError, RuntimeError):
    """A model bundle is missing, fails its hash or golden-prediction check, or does not fit its input."""


class AuditError(CreditPointsError, RuntimeError):
    """The audit store is unavailable, or its chain does not verify."""
