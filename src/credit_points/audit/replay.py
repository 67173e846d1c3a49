"""Replay: re-decide a stored decision through an injected function and list every difference.

The store does not know the engine. :func:`replay_decision` takes the function that re-decides a stored
record (the decision service's ``replay``) and compares its answer with the stored record: probabilities of
default within an absolute tolerance (1e-12 by default), everything else exactly — except the fields that
the decision logic changed since the record was decided (``records.LOGIC_CHANGES``), which are listed
apart as explained by the upgrade.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from credit_points.audit.store import AuditStore, NotFoundError
from credit_points.records import changed_since

ReplayFn = Callable[[dict[str, Any]], dict[str, Any]]
"""Given a stored decision record, returns the record decided again from its input and pinned artifacts."""

PD_KEYS: frozenset[str] = frozenset({"prob_default"})


@dataclass(frozen=True)
class Difference:
    """One path where the replayed record differs from the stored one."""

    path: str
    stored: Any
    replayed: Any


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of replaying one decision.

    ``explained`` are differences at fields the decision logic changed since the record was decided
    (``records.LOGIC_CHANGES``): reported, but they do not make the replay a mismatch.
    """

    decision_id: str
    matches: bool
    differences: tuple[Difference, ...] = field(default_factory=tuple)
    explained: tuple[Difference, ...] = field(default_factory=tuple)


def _under(path: str, prefixes: Collection[str]) -> bool:
    return any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in prefixes)


def diff_records(
    stored: Any,
    replayed: Any,
    *,
    pd_tolerance: float = 1e-12,
    pd_keys: Collection[str] = PD_KEYS,
    ignore: Collection[str] = (),
    path: str = "",
) -> list[Difference]:
    """Every difference between two JSON values, by dotted path.

    Numbers under a key in ``pd_keys`` may differ by ``pd_tolerance``; everything else must be equal
    (``1`` and ``1.0`` are equal numbers; ``True`` is not ``1``). Paths in ``ignore`` are skipped.

    Examples:
        >>> diff_records({"risk": {"prob_default": 0.1}}, {"risk": {"prob_default": 0.1 + 1e-14}})
        []
        >>> [d.path for d in diff_records({"limit": 1, "a": [1, 2]}, {"limit": 2, "a": [1, 3]})]
        ['a[1]', 'limit']
    """
    if path in ignore:
        return []
    if isinstance(stored, Mapping) and isinstance(replayed, Mapping):
        out: list[Difference] = []
        for key in sorted(set(stored) | set(replayed), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in stored or key not in replayed:
                if sub not in ignore:
                    out.append(Difference(sub, stored.get(key), replayed.get(key)))
                continue
            out.extend(
                diff_records(
                    stored[key],
                    replayed[key],
                    pd_tolerance=pd_tolerance,
                    pd_keys=pd_keys,
                    ignore=ignore,
                    path=sub,
                )
            )
        return out
    if isinstance(stored, list) and isinstance(replayed, list):
        if len(stored) != len(replayed):
            return [Difference(path, stored, replayed)]
        out = []
        for i, (a, b) in enumerate(zip(stored, replayed, strict=True)):
            out.extend(
                diff_records(
                    a, b, pd_tolerance=pd_tolerance, pd_keys=pd_keys, ignore=ignore, path=f"{path}[{i}]"
                )
            )
        return out
    if _is_number(stored) and _is_number(replayed):
        leaf = path.rsplit(".", 1)[-1]
        if leaf in pd_keys:
            equal = math.isclose(stored, replayed, rel_tol=0.0, abs_tol=pd_tolerance)
        else:
            equal = stored == replayed
        return [] if equal else [Difference(path, stored, replayed)]
    if type(stored) is not type(replayed) or stored != replayed:
        return [Difference(path, stored, replayed)]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def replay_decision(
    store: AuditStore,
    decision_id: str,
    replay: ReplayFn,
    *,
    pd_tolerance: float = 1e-12,
    ignore: Collection[str] = (),
) -> ReplayResult:
    """Re-decide a stored decision with ``replay`` and compare.

    Raises:
        NotFoundError: no decision has that id.
    """
    row = store.get(decision_id)
    if row is None or row.kind != "decision":
        raise NotFoundError(f"decision_id: no decision {decision_id!r}")
    stored = row.record
    replayed = replay(stored)
    diffs = diff_records(stored, replayed, pd_tolerance=pd_tolerance, ignore=ignore)
    upgraded = changed_since(stored.get("decision_logic"))
    explained = tuple(d for d in diffs if _under(d.path, upgraded))
    unexplained = tuple(d for d in diffs if not _under(d.path, upgraded))
    return ReplayResult(decision_id, not unexplained, unexplained, explained)
