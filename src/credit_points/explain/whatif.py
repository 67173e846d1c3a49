"""What-if search and weak spots: the smallest actionable changes that verifiably improve a decision.

A what-if never guesses. From one applicant row it builds a small batch of changed rows (a few levers — the
fields a firm can act on, ``configs/whatif.yaml`` — times a few step sizes), runs the batch once through the
``decide`` callable it is given (the decision engine's ``decide``; this module imports no engine), and keeps,
for each goal, the smallest step of each lever whose *decided* outcome reaches the goal:

* ``points_tier`` — innovation points at or above the next points-multiplier band;
* ``grade`` — a better grade on the master scale;
* ``limit`` — a higher recommended limit (for a declined firm: any offer).

The first row of the batch is the unchanged applicant, so a caller can check that ``decide`` reproduces
the decision being explained before trusting the what-ifs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from credit_points.config import CONFIG_DIR, StrictModel, VersionedConfig, load_config
from credit_points.exceptions import DataValidationError

GOALS: tuple[str, ...] = ("points_tier", "grade", "limit")
#: Outcome columns read from ``decide``'s frame.
OUTCOME_COLUMNS: tuple[str, ...] = ("points_total", "prob_default", "grade", "limit", "decision", "product")


class Lever(StrictModel):
    """One field a firm can change, and the steps tried.

    Attributes:
        id: lever id (shown with the field's label).
        field: the applicant field changed.
        mode: ``add`` adds each step; ``relative`` multiplies by ``1 + step`` (negative steps reduce).
        steps: step sizes, smallest first.
        at_most_field: the new value may not exceed this field of the same record (catalogue rules).
        at_most: the new value may not exceed this number (e.g. the top tier).
        same_change: fields that change by the same amount (repaying debt lowers total liabilities too);
            they never go below zero.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    field: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    mode: Literal["add", "relative"]
    steps: tuple[float, ...] = Field(min_length=1, max_length=6)
    at_most_field: str | None = None
    at_most: float | None = None
    same_change: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _steps_grow(self) -> Lever:
        sizes = [abs(s) for s in self.steps]
        if any(s == 0 for s in sizes) or any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)):
            raise ValueError(
                f"lever {self.id!r}: steps must be non-zero and grow in size; got {list(self.steps)}"
            )
        if self.mode == "relative" and any(s < -1 for s in self.steps):
            raise ValueError(
                f"lever {self.id!r}: a relative step below -1 makes the field negative; got {list(self.steps)}"
            )
        return self


class WhatIfConfig(VersionedConfig):
    """Levers and limits of the what-if search (``configs/whatif.yaml``)."""

    kind: Literal["whatif"] = "whatif"
    max_per_goal: int = Field(default=3, ge=1, le=10)
    levers: tuple[Lever, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> WhatIfConfig:
        ids = [lever.id for lever in self.levers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"lever ids repeat: {ids}")
        return self


@lru_cache(maxsize=4)
def load_whatif_config(path: str | Path | None = None) -> WhatIfConfig:
    """The what-if levers (default ``configs/whatif.yaml``), read once per path."""
    return load_config(path or CONFIG_DIR / "whatif.yaml", WhatIfConfig)


@dataclass(frozen=True)
class WhatIfResult:
    """What the search found.

    Attributes:
        baseline: the outcome ``decide`` gives the unchanged row (``OUTCOME_COLUMNS``).
        candidates: every changed row tried: ``lever``, ``field``, ``step_rank`` (0 = smallest),
            ``step``, ``value_from``, ``value_to``, ``changes`` (dict field → new value, every field
            changed), then the ``OUTCOME_COLUMNS`` ``decide`` returned.
        suggestions: per goal (``goal``, ``target``), the smallest successful step of each lever, at most
            ``max_per_goal`` per goal, smallest first: the candidate columns plus ``goal`` and ``target``.
    """

    baseline: dict[str, Any]
    candidates: pd.DataFrame
    suggestions: pd.DataFrame


def _changed_values(row: dict[str, Any], lever: Lever) -> tuple[np.ndarray, np.ndarray]:
    """(step ranks kept, new values) of one lever; steps that change nothing are dropped."""
    if lever.field not in row:
        raise DataValidationError(
            "the what-if lever names a field the record lacks", field=lever.field, value=lever.id
        )
    current = float(np.nan_to_num(float(row[lever.field])))
    steps = np.asarray(lever.steps, dtype="float64")
    new = current + steps if lever.mode == "add" else current * (1.0 + steps)
    upper = np.inf
    if lever.at_most_field is not None:
        bound = float(row[lever.at_most_field])
        upper = bound if np.isfinite(bound) else upper
    if lever.at_most is not None:
        upper = min(upper, lever.at_most)
    new = np.clip(new, 0.0, upper)
    ranks = np.arange(len(steps))
    moved = ~np.isclose(new, current, rtol=0, atol=1e-9)
    new, ranks = new[moved], ranks[moved]
    # after clipping several steps may land on the same value: keep the smallest step
    _, first = np.unique(new, return_index=True)
    keep = np.sort(first)
    return ranks[keep], new[keep]


_DESCRIBED = ("lever", "field", "step_rank", "step", "value_from", "value_to", "changes")


def _variants(base: pd.DataFrame, config: WhatIfConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The batch (row 0 = unchanged) and one description row per changed row."""
    row = base.iloc[0].to_dict()
    described: dict[str, list[Any]] = {name: [] for name in _DESCRIBED}
    for lever in config.levers:
        ranks, new = _changed_values(row, lever)
        if len(new) == 0:
            continue
        current = float(np.nan_to_num(float(row[lever.field])))
        changes: list[dict[str, float]] = [{lever.field: float(v)} for v in new]
        for other in lever.same_change:
            if other not in row:
                raise DataValidationError(
                    "the what-if lever changes a field the record lacks", field=other, value=lever.id
                )
            moved = np.maximum(float(np.nan_to_num(float(row[other]))) + (new - current), 0.0)
            for change, value in zip(changes, moved, strict=True):
                change[other] = float(value)
        described["lever"] += [lever.id] * len(new)
        described["field"] += [lever.field] * len(new)
        described["step_rank"] += ranks.tolist()
        described["step"] += [float(lever.steps[r]) for r in ranks]
        described["value_from"] += [current] * len(new)
        described["value_to"] += new.tolist()
        described["changes"] += changes
    frame = pd.DataFrame(described)
    n = len(frame) + 1
    batch = base.iloc[np.zeros(n, dtype="int64")].reset_index(drop=True)
    touched: dict[str, np.ndarray] = {}
    for k, change in enumerate(described["changes"], start=1):
        for name, value in change.items():
            if name not in touched:
                touched[name] = batch[name].to_numpy(dtype="float64", copy=True)
            touched[name][k] = value
    for name, values in touched.items():
        batch[name] = values
    return batch, frame


def next_tier(points_total: float, tiers: Sequence[float]) -> float | None:
    """The lowest points threshold above ``points_total`` (``None`` at the top tier).

    Examples:
        >>> next_tier(72.5, [110, 100, 80, 60])
        80.0
        >>> next_tier(120.0, [110, 100, 80, 60]) is None
        True
    """
    above = [float(t) for t in tiers if t > points_total]
    return min(above) if above else None


def what_if(
    base: pd.DataFrame,
    decide: Callable[[pd.DataFrame], pd.DataFrame],
    config: WhatIfConfig,
    *,
    tiers: Sequence[float],
    grades: Sequence[str],
) -> WhatIfResult:
    """Search the smallest lever steps that reach each goal, verified by ``decide``.

    Args:
        base: one validated applicant row.
        decide: returns, for a frame of applicant rows, a frame with at least ``OUTCOME_COLUMNS`` on the
            same positions (e.g. ``lambda f: engine.decide(f, explain="none")``).
        config: the levers.
        tiers: the points thresholds of the points-multiplier bands.
        grades: master-scale grades, best first.

    Returns:
        A :class:`WhatIfResult`; ``decide`` is called exactly once.

    Raises:
        DataValidationError: ``base`` is not one row, or ``decide`` returned the wrong number of rows.
    """
    if len(base) != 1:
        raise DataValidationError(f"what-if needs exactly one applicant row; got {len(base)}", field="base")
    batch, described = _variants(base, config)
    decided = decide(batch)
    if len(decided) != len(batch):
        raise DataValidationError(
            f"decide returned {len(decided)} rows for {len(batch)}", field="decide", value=len(decided)
        )
    outcome = pd.DataFrame({c: decided[c].to_numpy() for c in OUTCOME_COLUMNS})
    baseline = {c: outcome[c].iloc[0] for c in OUTCOME_COLUMNS}
    candidates = pd.concat(
        [described.reset_index(drop=True), outcome.iloc[1:].reset_index(drop=True)], axis=1
    )

    rank = {g: k for k, g in enumerate(grades)}
    grade_pos = candidates["grade"].map(rank).to_numpy(dtype="float64")
    base_grade = float(rank.get(str(baseline["grade"]), len(grades)))
    limit = candidates["limit"].to_numpy(dtype="float64")
    base_limit = float(np.nan_to_num(baseline["limit"]))
    tier = next_tier(float(baseline["points_total"]), tiers)
    reached = {
        "points_tier": (candidates["points_total"].to_numpy(dtype="float64") >= tier)
        if tier is not None
        else np.zeros(len(candidates), dtype=bool),
        "grade": grade_pos < base_grade,
        "limit": np.nan_to_num(limit) > base_limit,
    }
    targets = {"points_tier": tier, "grade": grades[int(base_grade) - 1] if 0 < base_grade <= len(grades) else None,
               "limit": base_limit}  # fmt: skip
    chosen = []
    for goal in GOALS:
        hits = candidates[reached[goal]]
        if hits.empty:
            continue
        best = hits.sort_values(["step_rank", "lever"], kind="stable").drop_duplicates("lever")
        best = best.head(config.max_per_goal).assign(goal=goal, target=targets[goal])
        chosen.append(best)
    columns = ["goal", "target", *candidates.columns]
    suggestions = pd.concat(chosen, ignore_index=True)[columns] if chosen else pd.DataFrame(columns=columns)
    return WhatIfResult(baseline=baseline, candidates=candidates, suggestions=suggestions)


def weak_spots(indicators: pd.DataFrame, *, k: int = 3) -> pd.DataFrame:
    """The actionable indicators with the most points left to earn, largest shortfall first.

    Args:
        indicators: one row per indicator with ``id``, ``points``, ``max_points``, ``actionable`` (bool)
            and ``pct`` (stage percentile, NaN where bands apply).
        k: how many to return.

    Returns:
        The rows kept, with ``shortfall = max_points - points`` (> 0), at most ``k``.

    Examples:
        >>> frame = pd.DataFrame({"id": ["a", "b", "c"], "points": [1.0, 4.0, 0.0],
        ...     "max_points": [5.0, 4.0, 3.0], "actionable": [True, True, False], "pct": [0.2, 0.9, 0.1]})
        >>> weak_spots(frame)["id"].tolist()
        ['a']
    """
    out = indicators.assign(shortfall=indicators["max_points"] - indicators["points"])
    out = out[out["actionable"].astype(bool) & (out["shortfall"] > 1e-9)]
    return (
        out.sort_values(["shortfall", "id"], ascending=[False, True], kind="stable")
        .head(k)
        .reset_index(drop=True)
    )
