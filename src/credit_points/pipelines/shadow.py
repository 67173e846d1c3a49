"""Shadow decisions after the fact: a challenger decides audited decisions from their stored inputs.

The service's shadow (``CREDIT_POINTS_SHADOW_MODEL_URI``) decides live traffic on spare CPU and sheds work
when the service runs saturated for long; a challenger registered after the traffic came in has no shadow
decisions at all. :func:`fill_shadow` closes both gaps: every audited decision of a window that has no
shadow row of the given version yet is decided by that version from the input the audit row stored (what
was known when the champion decided) and written to the shadow table, exactly as the live shadow would
have — the same five figures, decided without explanations. The chain is only read; re-running adds
nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from credit_points.audit.store import AuditStore
from credit_points.engine import DecisionEngine


@dataclass(frozen=True)
class ShadowFill:
    """What :func:`fill_shadow` did: decisions of the window, those that had a shadow row of this version
    already, those decided now, and those the shadow could not decide (stored with their error)."""

    name: str
    version: str
    artifact_hash: str
    since: str | None
    until: str | None
    decided_by: str | None
    in_window: int
    already: int
    decided: int
    errors: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fill_shadow(
    store: AuditStore,
    engine: DecisionEngine,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    decided_by: str | None = None,
    chunk_rows: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> ShadowFill:
    """Decide with ``engine`` (a registry version) every audited decision dated ``since``..``until`` (both
    included; decision dates, as ``outcomes dataset`` and ``monitor`` read them) — of the model version
    ``decided_by`` only, when given — that has no shadow row of ``engine``'s version yet, and store them.

    ``progress`` is called with the number of audit rows read after each chunk.
    """
    from credit_points.audit.outcomes import OutcomeStore
    from credit_points.audit.shadow import ShadowStore

    identity = engine.identity.as_dict()
    version = str(identity["version"])
    shadows = ShadowStore(store)
    shadows.create_schema()
    outcomes = OutcomeStore(store)
    outcomes.create_schema()
    in_window = already = decided = errors = 0
    window = outcomes.decision_inputs(
        since=since, until=until, model_version=decided_by, chunk_size=chunk_rows, progress=progress
    )
    for ids, inputs in window:
        in_window += len(ids)
        stored = shadows.stored_ids(ids, version)
        todo = [(did, given) for did, given in zip(ids, inputs, strict=True) if did not in stored]
        already += len(ids) - len(todo)
        if not todo:
            continue
        rows = _decide(engine, todo)
        shadows.append(identity, rows)
        failed = sum(1 for r in rows if r.get("error"))
        errors += failed
        decided += len(rows) - failed
    return ShadowFill(
        name=str(identity["name"]),
        version=version,
        artifact_hash=str(identity.get("artifact_hash", "")),
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        decided_by=decided_by,
        in_window=in_window,
        already=already,
        decided=decided,
        errors=errors,
    )


def shadow_parts(engine: DecisionEngine, applicants: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What a shadow keeps of each applicant's decision (``audit.shadow.SHADOW_PARTS``), decided without
    explanations or a record; :class:`DataValidationError` for a zone the model does not know."""
    from credit_points.audit.shadow import decided_parts
    from credit_points.records import applicants_frame

    return decided_parts(engine.decide_columns(applicants_frame(engine, applicants), explain="none"))


def _decide(engine: DecisionEngine, todo: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Shadow rows for (decision id, stored input) pairs: the parts, or the reason a row could not be
    decided (an input that is missing or no longer fits the engine, a zone it does not know)."""
    from credit_points.audit.shadow import decided_parts
    from credit_points.records import decidable_frame, unknown_zone_error

    def error(exc: Exception) -> str:
        return f"{type(exc).__name__}: {exc}"[:500]

    good = [(did, given) for did, given in todo if isinstance(given, dict)]
    rows = [
        {"decision_id": did, "error": "the audit row stores no input"}
        for did, given in todo
        if not isinstance(given, dict)
    ]
    try:
        frame, unknown = decidable_frame(engine, [given for _, given in good])
        parts = iter(decided_parts(engine.decide_columns(frame[~unknown], explain="none")))
        rows += [
            {"decision_id": did, "error": error(unknown_zone_error(engine, given))}
            if refused
            else {"decision_id": did, **next(parts)}
            for (did, given), refused in zip(good, unknown, strict=True)
        ]
    except Exception:  # noqa: BLE001 - an input that no longer fits: decide each alone, its error its own row
        for did, given in good:
            try:
                rows.append({"decision_id": did, **shadow_parts(engine, [given])[0]})
            except Exception as exc:  # noqa: BLE001
                rows.append({"decision_id": did, "error": error(exc)})
    return rows
