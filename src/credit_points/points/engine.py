"""The points engine: stage → derived indicators → within-stage percentile → weights → bonus, deductions, vetoes → ranks.

:class:`PointsScorer` compiles a profile and a reference table once (expressions, the weight matrix, the
quantile knots of every stage and indicator) and then scores whole frames with numpy: rows are grouped by
stage with one stable sort, every indicator is scored on contiguous slices, and the result is scattered
back. Every per-firm number depends only on that firm's record, the config and the reference, so a firm
scored alone gets bit-for-bit the points it gets in any batch. :func:`score_points` is the thin
functional wrapper.

Output columns (same index as the input), see ``docs/architecture.md``:
``stage``, ``points_total``, ``points_core``, ``points_bonus``, ``points_deductions``, ``veto``,
``veto_reasons``, ``points_cat_<category>``, ``ind_<id>_value`` / ``_pct`` / ``_points``,
``bonus_<id>``, ``deduction_<id>``, ``rank_zone``, ``rank_stage``, ``points_config_version``,
``points_config_hash``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from credit_points.exceptions import DataValidationError
from credit_points.expressions import Expression, compile_expression
from credit_points.points.config import Bands, PointsConfig
from credit_points.points.reference import ReferenceTable, build_reference, midrank_percentile

# how an indicator is scored in a stage
_QUANTILE, _BANDS, _TIER, _BOOLEAN, _BANDED = 0, 1, 2, 3, 4


class _Cell:
    """Compiled scoring rule of one indicator in one stage."""

    __slots__ = ("edges", "knots", "mode", "pct_knots", "scores")

    def __init__(self, mode: int) -> None:
        self.mode = mode
        self.knots: np.ndarray | None = None  # quantile knots used for scoring
        self.pct_knots: np.ndarray | None = None  # knots used for the reported percentile
        self.edges: np.ndarray | None = None
        self.scores: np.ndarray | None = None


class PointsScorer:
    """A points profile and its reference population, compiled once for fast repeated scoring.

    Args:
        config: the zone's profile.
        reference: the pinned reference table; ``None`` makes every scored batch its own reference.

    Raises:
        ConfigError: when the reference was built for other stage or indicator definitions.

    Examples:
        >>> from credit_points.points.config import load_points_config
        >>> from credit_points.points.testing import example_frame
        >>> cfg = load_points_config("torch-18")
        >>> firms = example_frame(60)
        >>> scorer = PointsScorer(cfg, build_reference(firms, cfg))
        >>> out = scorer.score(firms)
        >>> bool((scorer.score(firms.iloc[[7]])["points_total"] == out["points_total"].iloc[7]).all())
        True
    """

    def __init__(self, config: PointsConfig, reference: ReferenceTable | None = None) -> None:
        self.config = config
        self.reference = reference
        self.config_hash = config.content_hash
        self.reference_hash = reference.content_hash if reference is not None else None
        self._stage_ids = np.asarray(config.stage_ids, dtype=object)
        self._stage_mins = np.asarray([s.min for s in config.stages], dtype="float64")
        self._derived = [(d.id, compile_expression(d.expr)) for d in config.derived]
        self._indicators = [compile_expression(ind.expr) for ind in config.indicators]
        self._weights = config.stage_weight_matrix
        self._cat_members = [
            np.flatnonzero([ind.category == cat.id for ind in config.indicators]) for cat in config.categories
        ]
        self._bonus = [(it, compile_expression(it.expr)) for it in config.bonus.items]
        self._deductions = [(it, compile_expression(it.expr)) for it in config.deductions.items]
        self._vetoes = [(v.id, compile_expression(v.expr)) for v in config.vetoes]
        derived_ids = {d.id for d in config.derived}
        names: set[str] = {config.stage_field}
        for expr in [e for _, e in self._derived] + self._indicators:
            names |= expr.names
        for _, expr in self._bonus + self._deductions:
            names |= expr.names
        for _, expr in self._vetoes:
            names |= expr.names
        self._fields = sorted(names - derived_ids)
        self._veto_table = self._veto_strings()
        if reference is not None:
            reference.check_compatible(config)
            self._cells = self._compile_cells(reference)
        self._columns = self._column_layout()

    # ------------------------------------------------------------------ compilation
    def _compile_cells(self, ref: ReferenceTable) -> list[list[_Cell]]:
        cfg = self.config
        probs = np.asarray(ref.probs, dtype="float64")
        self._probs = probs
        cells: list[list[_Cell]] = []
        for stage in cfg.stage_ids:
            row = []
            for ind in cfg.indicators:
                table = ref.table(stage, ind.id)
                enough = table is not None and table.n >= ref.min_firms
                knots = np.asarray(table.quantiles, dtype="float64") if (enough and table is not None) else None
                if ind.kind == "percentile":
                    if knots is not None:
                        cell = _Cell(_QUANTILE)
                        cell.knots = knots
                    else:
                        bands = ref.fallback.get(stage, {}).get(ind.id)
                        if bands is None:
                            fb = cfg.fallback_bands(ind, stage)
                            bands = {"edges": list(fb.edges), "scores": list(fb.scores)} if fb else None
                        if bands is None:  # pragma: no cover - the config validator requires fallback bands
                            raise DataValidationError("no reference and no fallback bands", field=ind.id, value=stage)
                        cell = _Cell(_BANDS)
                        cell.edges = np.asarray(bands["edges"], dtype="float64")
                        cell.scores = np.asarray(bands["scores"], dtype="float64")
                elif ind.kind == "tier":
                    cell = _Cell(_TIER)
                elif ind.kind == "boolean":
                    cell = _Cell(_BOOLEAN)
                else:
                    cell = _Cell(_BANDED)
                    bands_spec: Bands = ind.bands  # type: ignore[assignment]
                    cell.edges = np.asarray(bands_spec.edges, dtype="float64")
                    cell.scores = np.asarray(bands_spec.scores, dtype="float64")
                cell.pct_knots = knots
                row.append(cell)
            cells.append(row)
        return cells

    def _veto_strings(self) -> np.ndarray | None:
        ids = [vid for vid, _ in self._vetoes]
        if len(ids) > 12:
            return None
        table = [";".join(ids[k] for k in range(len(ids)) if code >> k & 1) for code in range(1 << len(ids))]
        return np.asarray(table, dtype=object)

    def _column_layout(self) -> dict[str, list[str]]:
        cfg = self.config
        float_cols = ["points_total", "points_core", "points_bonus", "points_deductions"]
        float_cols += [f"points_cat_{c}" for c in cfg.category_ids]
        for ind in cfg.indicator_ids:
            float_cols += [f"ind_{ind}_value", f"ind_{ind}_pct", f"ind_{ind}_points"]
        float_cols += [f"bonus_{it.id}" for it in cfg.bonus.items]
        float_cols += [f"deduction_{it.id}" for it in cfg.deductions.items]
        order = ["stage", *float_cols[:4], "veto", "veto_reasons", *float_cols[4:], "rank_zone", "rank_stage",
                 "points_config_version", "points_config_hash"]  # fmt: skip
        return {"float": float_cols, "order": order}

    @property
    def columns(self) -> list[str]:
        """The output columns, in order."""
        return list(self._columns["order"])

    # ------------------------------------------------------------------ inputs
    def _environment(self, frame: pd.DataFrame) -> dict[str, Any]:
        env: dict[str, Any] = {}
        for name in self._fields:
            if name not in frame.columns:
                raise DataValidationError("column required by the points profile is missing", field=name)
            col = frame[name]
            kind = col.dtype.kind if isinstance(col.dtype, np.dtype) else "O"
            if kind in "iuf":
                env[name] = col.to_numpy(dtype="float64", na_value=np.nan) if kind != "f" else col.to_numpy()
            elif kind == "b" or kind == "M":
                env[name] = col.to_numpy()
            else:
                env[name] = col.to_numpy(dtype=object)
        n = len(frame)
        for name, expr in self._derived:
            env[name] = _as_float(expr.evaluate(env), n)
        return env

    def stage_codes(self, frame: pd.DataFrame | Mapping[str, Any]) -> np.ndarray:
        """Stage index of every row (into ``config.stages``), lower bound inclusive.

        Raises:
            DataValidationError: naming the field, the value and the row when a stage cannot be assigned.
        """
        field = self.config.stage_field
        values = np.asarray(frame[field], dtype="float64")
        codes = np.searchsorted(self._stage_mins, values, side="right") - 1
        bad = np.isnan(values) | (codes < 0)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"cannot assign a stage: value {values[k]!r} is missing or below {self._stage_mins[0]:,.2f} "
                f"({int(bad.sum())} row(s) affected)",
                field=field,
                value=values[k],
                row=k + 1,
            )
        return codes

    def indicator_values(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Stage codes (n,) and raw indicator values (n_indicators, n) of a frame."""
        env = self._environment(frame)
        return self.stage_codes(env), self._values(env, len(frame))

    def _values(self, env: Mapping[str, Any], n: int) -> np.ndarray:
        values = np.empty((len(self._indicators), n), dtype="float64")
        for j, expr in enumerate(self._indicators):
            values[j] = _as_float(expr.evaluate(env), n)
        values[~np.isfinite(values)] = np.nan
        return values

    # ------------------------------------------------------------------ scoring
    def score_values(
        self, codes: np.ndarray, values: np.ndarray, *, with_pct: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score fractions (0…1) and percentiles of raw indicator values, shape ``(n_indicators, n)``.

        Only available with a pinned reference.
        """
        if self.reference is None:
            raise DataValidationError("score_values needs a pinned reference table", field="reference")
        m, n = values.shape
        scores = np.empty((m, n), dtype="float64")
        pcts = np.full((m, n), np.nan) if with_pct else np.empty((m, 0))
        if n == 0:
            return scores, pcts
        first = codes[0]
        if (codes == first).all():
            self._score_stage(int(first), values, scores, pcts, with_pct)
            return scores, pcts
        order = np.argsort(codes, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(self._stage_mins)))])
        sorted_values = values[:, order]
        sorted_scores = np.empty_like(sorted_values)
        sorted_pcts = np.full_like(sorted_values, np.nan) if with_pct else pcts
        for s in range(len(self._stage_mins)):
            a, b = bounds[s], bounds[s + 1]
            if b > a:
                part_pct = sorted_pcts[:, a:b] if with_pct else sorted_pcts
                part_scores = sorted_scores[:, a:b]
                self._score_stage(s, sorted_values[:, a:b], part_scores, part_pct, with_pct)
                sorted_scores[:, a:b] = part_scores
                if with_pct:
                    sorted_pcts[:, a:b] = part_pct
        scores[:, order] = sorted_scores
        if with_pct:
            pcts[:, order] = sorted_pcts
        return scores, pcts

    def _score_stage(self, s: int, values: np.ndarray, out: np.ndarray, pcts: np.ndarray, with_pct: bool) -> None:
        full_at = self.config.scoring.full_at
        probs = self._probs
        for j, ind in enumerate(self.config.indicators):
            cell = self._cells[s][j]
            v = values[j]
            missing = np.isnan(v)
            pct = None
            if cell.pct_knots is not None and (with_pct or cell.mode == _QUANTILE):
                pct = midrank_percentile(v, cell.pct_knots, probs)
                if with_pct:
                    pcts[j] = pct
            if cell.mode == _QUANTILE:
                good = pct if ind.direction == "higher" else 1.0 - pct  # type: ignore[operator]
                score = np.minimum(1.0, good / full_at)
            elif cell.mode in (_BANDS, _BANDED):
                score = cell.scores[np.searchsorted(cell.edges, v, side="right")]  # type: ignore[index, arg-type]
            elif cell.mode == _TIER:
                tier = np.clip(v / float(ind.max_tier or 1), 0.0, 1.0)
                score = tier if ind.direction == "higher" else 1.0 - tier
            else:
                truth = v > 0
                score = (truth if ind.direction == "higher" else ~truth).astype("float64")
            out[j] = np.where(missing, ind.missing_score, score)

    def _items(self, items: list[tuple[Any, Expression]], env: Mapping[str, Any], n: int) -> np.ndarray:
        out = np.empty((len(items), n), dtype="float64")
        for k, (item, expr) in enumerate(items):
            raw = _as_float(expr.evaluate(env), n)
            raw = np.where(np.isnan(raw) | (raw < 0), 0.0, raw)
            pts = raw * item.points
            out[k] = np.minimum(pts, item.cap) if item.cap is not None else pts
        return out

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score a frame of validated applicant records (same index, columns per :attr:`columns`)."""
        if self.reference is None:
            return PointsScorer(self.config, build_reference(frame, self.config)).score(frame)
        cfg = self.config
        n = len(frame)
        env = self._environment(frame)
        codes = self.stage_codes(env)
        values = self._values(env, n)
        scores, pcts = self.score_values(codes, values)
        points = scores * self._weights[codes].T

        cats = np.zeros((len(self._cat_members), n))
        for c, members in enumerate(self._cat_members):
            for j in members:  # fixed order of additions: identical in any batch
                cats[c] += points[j]
        core = np.zeros(n)
        for c in range(len(cats)):
            core += cats[c]
        bonus_items = self._items(self._bonus, env, n)
        deduction_items = self._items(self._deductions, env, n)
        bonus = _ordered_sum(bonus_items, n)
        deductions = _ordered_sum(deduction_items, n)
        bonus = np.minimum(bonus, cfg.bonus.cap)
        deductions = np.minimum(deductions, cfg.deductions.cap)
        total = np.maximum(0.0, core + bonus - deductions)

        veto_code = np.zeros(n, dtype="int64")
        for k, (_, expr) in enumerate(self._vetoes):
            veto_code |= _as_bool(expr.evaluate(env), n).astype("int64") << k
        veto = veto_code != 0
        if self._veto_table is not None:
            reasons = self._veto_table[veto_code]
        else:
            uniq, inverse = np.unique(veto_code, return_inverse=True)
            ids = [vid for vid, _ in self._vetoes]
            labels = [";".join(ids[k] for k in range(len(ids)) if int(u) >> k & 1) for u in uniq]
            reasons = np.asarray(labels, dtype=object)[inverse]

        block = np.empty((n, len(self._columns["float"])), dtype="float64")
        block[:, 0], block[:, 1], block[:, 2], block[:, 3] = total, core, bonus, deductions
        col = 4
        block[:, col : col + len(cats)] = cats.T
        col += len(cats)
        m = values.shape[0]
        triple = np.empty((n, m, 3))
        triple[:, :, 0], triple[:, :, 1], triple[:, :, 2] = values.T, pcts.T, points.T
        block[:, col : col + 3 * m] = triple.reshape(n, 3 * m)
        col += 3 * m
        block[:, col : col + len(bonus_items)] = bonus_items.T
        col += len(bonus_items)
        block[:, col : col + len(deduction_items)] = deduction_items.T

        zone_codes = self._zone_codes(frame, n)
        out = pd.DataFrame(block, index=frame.index, columns=self._columns["float"], copy=False)
        extra = {
            "stage": pd.array(self._stage_ids[codes], dtype="str"),
            "veto": veto,
            "veto_reasons": pd.array(reasons, dtype="str"),
            "rank_zone": _group_rank(zone_codes, total, veto),
            "rank_stage": _group_rank(zone_codes * len(self._stage_mins) + codes, total, veto),
            "points_config_version": pd.array(np.full(n, cfg.version, dtype=object), dtype="str"),
            "points_config_hash": pd.array(np.full(n, self.config_hash, dtype=object), dtype="str"),
        }
        for name, arr in extra.items():
            out[name] = arr
        return out[self._columns["order"]]

    def _zone_codes(self, frame: pd.DataFrame, n: int) -> np.ndarray:
        zone = self.config.zone_field
        if zone not in frame.columns or n == 0:
            return np.zeros(n, dtype="int64")
        codes, _ = pd.factorize(frame[zone], use_na_sentinel=False)
        return np.asarray(codes, dtype="int64")


def _as_float(value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(n, arr)
    return arr.astype("float64", copy=False)


def _as_bool(value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.dtype.kind == "f":
        return np.nan_to_num(arr, nan=0.0) != 0
    return arr.astype(bool)


def _ordered_sum(rows: np.ndarray, n: int) -> np.ndarray:
    total = np.zeros(n)
    for k in range(len(rows)):
        total += rows[k]
    return total


def _group_rank(groups: np.ndarray, points: np.ndarray, veto: np.ndarray) -> np.ndarray:
    """Rank within each group, 1 = best: eligible firms before vetoed ones, then more points; ties share the best rank.

    Examples:
        >>> _group_rank(np.array([0, 0, 0, 1]), np.array([5.0, 9.0, 5.0, 1.0]), np.array([False] * 4)).tolist()
        [2, 1, 2, 1]
    """
    n = len(points)
    if n <= 1:
        return np.ones(n, dtype="int64")
    order = np.lexsort((-points, veto, groups))
    g, p, v = groups[order], points[order], veto[order]
    idx = np.arange(n)
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = g[1:] != g[:-1]
    new_run = new_group.copy()
    new_run[1:] |= (p[1:] != p[:-1]) | (v[1:] != v[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, idx, 0))
    run_start = np.maximum.accumulate(np.where(new_run, idx, 0))
    ranks = np.empty(n, dtype="int64")
    ranks[order] = run_start - group_start + 1
    return ranks


def score_points(
    frame: pd.DataFrame, config: PointsConfig, reference: ReferenceTable | None = None
) -> pd.DataFrame:
    """Innovation points of every applicant (same index as ``frame``).

    Args:
        frame: validated applicant records (``configs/fields.yaml``).
        config: the zone's points profile.
        reference: the pinned reference table; ``None`` makes the batch its own reference.

    Returns:
        One row per applicant with the columns of :attr:`PointsScorer.columns`.

    Examples:
        >>> from credit_points.points.config import load_points_config
        >>> from credit_points.points.testing import example_frame
        >>> out = score_points(example_frame(50), load_points_config("torch-18"))
        >>> bool(out["points_total"].between(0, 125).all()), out["rank_zone"].min()
        (True, np.int64(1))
    """
    return PointsScorer(config, reference).score(frame)
