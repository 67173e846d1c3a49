"""The pinned reference population: a compact per-stage, per-indicator quantile table with its hash.

Percentiles are read from this table, never from the batch being scored, so one firm scored alone gets
exactly the points it gets inside a million-row batch. A table holds, for every stage and indicator, the
number of reference firms with a value and the values at ``quantiles`` evenly spaced probabilities
(numpy's ``linear`` method), plus a copy of the fallback bands that apply where a stage has fewer than
``min_firms`` firms. It is plain JSON, hashed like a config.

The percentile of a value ``x`` is the mid-rank of the table's piecewise-linear distribution:
``(F(x-) + F(x)) / 2`` — inside a run of tied knots (many firms with no patent) it is the middle of the
run, elsewhere the linear interpolation between knots; below the smallest knot it is 0, above the
largest 1. It never decreases as ``x`` grows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from credit_points.config import canonical_json, sha256_text
from credit_points.exceptions import ConfigError
from credit_points.points.config import PointsConfig

FORMAT = "credit-points/points-reference/1"


@dataclass(frozen=True)
class StageIndicatorTable:
    """Quantile knots of one indicator in one stage."""

    n: int
    quantiles: tuple[float, ...]


@dataclass(frozen=True)
class ReferenceTable:
    """Per-stage, per-indicator quantile table of a reference population.

    Attributes:
        profile: the points profile it was built for.
        reference_key: hash of the stage and indicator definitions it depends on
            (:attr:`PointsConfig.reference_key`); a scorer refuses a table built for other definitions.
        probs: probabilities of the knots (0 … 1).
        min_firms: below this many firms with a value, a stage uses the fallback bands.
        stages: ``{stage: {"n_firms": int, "indicators": {indicator: StageIndicatorTable}}}``.
        fallback: ``{stage: {indicator: {"edges": [...], "scores": [...]}}}`` for percentile indicators.
        label: free text (e.g. "Changsha zone, firms scored in 2024").
        ranking: the reference firms' points by zone and by zone × stage, so that a firm's rank is its place
            in the pinned population — the same alone, in any batch and in any Dask partition. Groups of up
            to ``RANK_EXACT_MAX`` firms keep every total (exact ranks); larger ones keep ``RANK_KNOTS``
            quantiles (ranks to within one knot's share of the group).
    """

    profile: str
    reference_key: str
    probs: tuple[float, ...]
    min_firms: int
    stages: dict[str, dict[str, Any]]
    fallback: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    label: str = ""
    ranking: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ lookup
    def table(self, stage: str, indicator: str) -> StageIndicatorTable | None:
        """The knots of ``indicator`` in ``stage`` (``None`` when the stage had no firm with a value)."""
        return self.stages.get(stage, {}).get("indicators", {}).get(indicator)

    def uses_quantiles(self, stage: str, indicator: str) -> bool:
        """True where the stage had at least ``min_firms`` reference firms with a value."""
        table = self.table(stage, indicator)
        return table is not None and table.n >= self.min_firms

    def quantile(self, stage: str, indicator: str, prob: float) -> float:
        """The raw value at probability ``prob`` in the stage (NaN without a table)."""
        table = self.table(stage, indicator)
        if table is None:
            return float("nan")
        return float(np.interp(prob, self.probs, table.quantiles))

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the one that is hashed and saved)."""
        return {
            "format": FORMAT,
            "profile": self.profile,
            "reference_key": self.reference_key,
            "label": self.label,
            "probs": list(self.probs),
            "min_firms": self.min_firms,
            "stages": {
                stage: {
                    "n_firms": int(body["n_firms"]),
                    "indicators": {
                        ind: {"n": t.n, "quantiles": list(t.quantiles)}
                        for ind, t in body["indicators"].items()
                    },
                }
                for stage, body in self.stages.items()
            },
            "fallback": self.fallback,
            "ranking": self.ranking,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceTable:
        """Rebuild a table from :meth:`to_dict` output (e.g. parsed JSON)."""
        if data.get("format") != FORMAT:
            raise ConfigError(
                f"not a points reference table (format {data.get('format')!r}; expected {FORMAT!r})"
            )
        try:
            stages = {
                stage: {
                    "n_firms": int(body["n_firms"]),
                    "indicators": {
                        ind: StageIndicatorTable(
                            n=int(t["n"]), quantiles=tuple(float(q) for q in t["quantiles"])
                        )
                        for ind, t in body["indicators"].items()
                    },
                }
                for stage, body in data["stages"].items()
            }
            return cls(
                profile=str(data["profile"]),
                reference_key=str(data["reference_key"]),
                probs=tuple(float(p) for p in data["probs"]),
                min_firms=int(data["min_firms"]),
                stages=stages,
                fallback=data.get("fallback", {}),
                label=str(data.get("label", "")),
                ranking=data.get("ranking", {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"reference table is malformed: {exc!r}") from None

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the table."""
        return sha256_text(canonical_json(self.to_dict()))

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, indent=1), encoding="utf-8"
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReferenceTable:
        """Read a table written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("reference file not found", path=str(path)) from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"reference file is not JSON: {exc.msg}", path=str(path)) from None
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(str(exc), path=str(path)) from None

    # ------------------------------------------------------------------ ranks
    @property
    def known_zones(self) -> tuple[str, ...]:
        """The zones of the reference population (empty for a table built without ranks: any zone goes)."""
        return tuple(sorted(self.ranking.get("zone", {})))

    def rank(
        self, zones: np.ndarray, stages: np.ndarray, points: np.ndarray, veto: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ranks in zone and in zone × stage against the pinned population, 1 = best.

        A firm's rank is 1 + the number of eligible reference firms of its group with more points; a vetoed
        firm ranks after every eligible one. A zone the reference does not know gets NaN (no rank, so no
        rule such as "top 500 in the zone" can hold for it).

        Examples:
            >>> table = ReferenceTable("p", "k", (0.0, 1.0), 30, {}, ranking={
            ...     "zone": {"z": {"n": 3, "points": [50.0, 70.0, 90.0]}},
            ...     "zone_stage": {"z|growth": {"n": 2, "points": [50.0, 70.0]}}})
            >>> rz, rs = table.rank(np.array(["z", "z", "y"]), np.array(["growth"] * 3),
            ...                     np.array([80.0, 95.0, 99.0]), np.array([False, True, False]))
            >>> rz.tolist(), rs.tolist()
            ([2.0, 4.0, nan], [1.0, 3.0, nan])
        """
        zones = np.asarray(zones).astype(str)
        stages = np.asarray(stages).astype(str)
        keys = np.char.add(np.char.add(zones, "|"), stages)
        return (
            _rank_in_groups(self.ranking.get("zone", {}), zones, points, veto),
            _rank_in_groups(self.ranking.get("zone_stage", {}), keys, points, veto),
        )

    def check_compatible(self, config: PointsConfig) -> None:
        """Raise :class:`ConfigError` unless the table was built for the config's stages and indicators."""
        if self.reference_key != config.reference_key:
            raise ConfigError(
                f"reference table was built for other stage/indicator definitions (profile {self.profile!r}, "
                f"key {self.reference_key[:12]}…); config {config.profile!r} has key {config.reference_key[:12]}…"
            )


def midrank_percentile(values: np.ndarray, knots: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Percentile of each value against quantile knots: the mid-rank ``(F(x-) + F(x)) / 2``.

    NaN values give NaN.

    Examples:
        >>> probs = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
        >>> knots = np.array([0.0, 0.0, 0.0, 2.0, 4.0])
        >>> midrank_percentile(np.array([-1.0, 0.0, 1.0, 3.0, 9.0]), knots, probs).tolist()
        [0.0, 0.25, 0.625, 0.875, 1.0]
    """
    return PercentileLookup(knots, probs)(values)


class PercentileLookup:
    """:func:`midrank_percentile` against fixed knots, with the per-segment arrays precomputed.

    Segment ``i`` (``0 <= i <= k``) holds the values with ``knots[i-1] <= x < knots[i]`` (one binary search);
    inside it the distribution is linear. A value equal to a knot gets the middle of the run of tied knots.
    """

    __slots__ = ("knots", "left_knot", "left_prob", "mid_at_knot", "slope")

    def __init__(self, knots: np.ndarray, probs: np.ndarray) -> None:
        knots = np.asarray(knots, dtype="float64")
        probs = np.asarray(probs, dtype="float64")
        k = len(knots)
        self.knots = knots
        below = knots[0] - max(1.0, abs(knots[0]))
        self.left_knot = np.concatenate([[below], knots])  # knot at the left of segment i
        self.left_prob = np.concatenate([[0.0], probs])
        right_knot = np.concatenate([knots, [knots[-1] + max(1.0, abs(knots[-1]))]])
        right_prob = np.concatenate([probs, [1.0]])
        span = right_knot - self.left_knot
        slope = np.where(span > 0, (right_prob - self.left_prob) / np.where(span > 0, span, 1.0), 0.0)
        slope[0] = 0.0  # below the smallest knot: 0
        slope[k] = 0.0  # above the largest knot: 1
        self.left_prob[k] = 1.0
        self.slope = slope
        # at a knot: the middle of the run of knots equal to it, (F(x-) + F(x)) / 2
        first = np.searchsorted(knots, knots, side="left")
        self.mid_at_knot = 0.5 * (np.concatenate([[0.0], probs[first]]) + self.left_prob)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        seg = np.searchsorted(self.knots, values, side="right")  # NaN sorts last and stays NaN below
        left = np.take(self.left_knot, seg)
        lin = (values - left) * np.take(self.slope, seg)
        lin += np.take(self.left_prob, seg)
        return np.where(left == values, np.take(self.mid_at_knot, seg), lin)


RANK_EXACT_MAX = 5000
RANK_KNOTS = 1001


def rank_group_summary(points: np.ndarray) -> dict[str, Any]:
    """One group's stored totals: all of them, or quantile knots when the group is large."""
    ordered = np.sort(points)
    if ordered.size <= RANK_EXACT_MAX:
        return {"n": int(ordered.size), "points": [float(v) for v in ordered]}
    probs = np.linspace(0.0, 1.0, RANK_KNOTS)
    return {"n": int(ordered.size), "knots": [float(v) for v in np.quantile(ordered, probs)]}


def _greater_than(group: dict[str, Any], values: np.ndarray) -> np.ndarray:
    """How many reference firms of a group have more points than each value."""
    n = int(group["n"])
    if "points" in group:
        ordered = np.asarray(group["points"], dtype="float64")
        return (n - np.searchsorted(ordered, values, side="right")).astype("float64")
    knots = np.asarray(group["knots"], dtype="float64")
    share_at_or_below = np.interp(values, knots, np.linspace(0.0, 1.0, knots.size), left=0.0, right=1.0)
    return np.round(n * (1.0 - share_at_or_below))


def _rank_in_groups(
    groups: dict[str, dict[str, Any]], keys: np.ndarray, points: np.ndarray, veto: np.ndarray
) -> np.ndarray:
    out = np.full(len(keys), np.nan)
    for key in np.unique(keys):
        group = groups.get(str(key))
        if group is None:
            continue
        rows = keys == key
        ranks = 1.0 + _greater_than(group, points[rows])
        out[rows] = np.where(veto[rows], float(group["n"]) + 1.0, ranks)
    return out


__all__ = ["ReferenceTable", "StageIndicatorTable", "midrank_percentile", "rank_group_summary"]
