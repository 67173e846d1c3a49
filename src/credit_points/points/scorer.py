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
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from credit_points.exceptions import DataValidationError
from credit_points.expressions import Expression, compile_expression
from credit_points.points.config import Bands, PointsConfig
from credit_points.points.reference import (
    PercentileLookup,
    ReferenceTable,
    StageIndicatorTable,
    rank_group_summary,
)

# how an indicator is scored in a stage
_QUANTILE, _BANDS, _TIER, _BOOLEAN, _BANDED = 0, 1, 2, 3, 4


class _Cell:
    """Compiled scoring rule of one indicator in one stage."""

    __slots__ = ("edges", "lookup", "mode", "scores")

    def __init__(self, mode: int) -> None:
        self.mode = mode
        self.lookup: PercentileLookup | None = None  # the stage's quantile knots (enough reference firms)
        self.edges: np.ndarray | None = None
        self.scores: np.ndarray | None = None


class _StagePack(NamedTuple):
    """A stage's percentile lookups stacked row-wise (see :class:`PercentileLookup`)."""

    idx: np.ndarray  # indicators with a lookup
    knots: np.ndarray
    left_knot: np.ndarray
    left_prob: np.ndarray
    slope: np.ndarray
    mid_at_knot: np.ndarray
    quant: np.ndarray  # rows of the pack scored by percentile
    quant_idx: np.ndarray  # their indicator positions
    lower: np.ndarray  # (rows, 1) lower is better
    missing: np.ndarray  # (rows, 1) score of a missing value


class PointsScorer:
    """A points profile and its reference population, compiled once for fast repeated scoring.

    Args:
        config: the zone's profile.
        reference: the pinned reference table; ``None`` makes every scored batch its own reference.
        threads: chunks of a large batch scored in parallel (numpy releases the GIL); results do not depend
            on it. Keep 1 in a serving process that scales by workers.

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

    def __init__(
        self, config: PointsConfig, reference: ReferenceTable | None = None, *, threads: int = 1
    ) -> None:
        self.config = config
        self.reference = reference
        self.threads = max(1, int(threads))
        self.config_hash = config.content_hash
        self.reference_hash = reference.content_hash if reference is not None else None
        self._stage_ids = np.asarray(config.stage_ids, dtype=object)
        self._stage_mins = np.asarray([s.min for s in config.stages], dtype="float64")
        self._derived = [(d.id, compile_expression(d.expr)) for d in config.derived]
        self._indicators = [compile_expression(ind.expr) for ind in config.indicators]
        self._weights = config.stage_weight_matrix
        self._weights_by_indicator = np.ascontiguousarray(self._weights.T)  # (indicators, stages)
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
        self._field_kinds = _catalogue_kinds()
        self._positions: tuple[tuple[Any, ...], np.ndarray] = ((), np.empty(0, dtype="int64"))
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
                knots = (
                    np.asarray(table.quantiles, dtype="float64") if (enough and table is not None) else None
                )
                if ind.kind == "percentile":
                    if knots is not None:
                        cell = _Cell(_QUANTILE)
                    else:
                        fb = cfg.fallback_bands(
                            ind, stage
                        )  # the profile's rule; the table's copy is a record
                        bands = {"edges": list(fb.edges), "scores": list(fb.scores)} if fb else None
                        if bands is None:  # pragma: no cover - the config validator requires fallback bands
                            raise DataValidationError(
                                "no reference and no fallback bands", field=ind.id, value=stage
                            )
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
                cell.lookup = PercentileLookup(knots, probs) if knots is not None else None
                row.append(cell)
            cells.append(row)
        self._packs = [self._pack(row) for row in cells]
        return cells

    def _pack(self, row: list[_Cell]) -> _StagePack | None:
        """All of a stage's percentile lookups stacked, for scoring a few rows with a handful of numpy calls."""
        with_lookup = [j for j, cell in enumerate(row) if cell.lookup is not None]
        if not with_lookup:
            return None
        lookups = [row[j].lookup for j in with_lookup]
        quant = [k for k, j in enumerate(with_lookup) if row[j].mode == _QUANTILE]
        inds = [self.config.indicators[with_lookup[k]] for k in quant]
        return _StagePack(
            idx=np.asarray(with_lookup),
            knots=np.stack([lk.knots for lk in lookups]),  # type: ignore[union-attr]
            left_knot=np.stack([lk.left_knot for lk in lookups]),  # type: ignore[union-attr]
            left_prob=np.stack([lk.left_prob for lk in lookups]),  # type: ignore[union-attr]
            slope=np.stack([lk.slope for lk in lookups]),  # type: ignore[union-attr]
            mid_at_knot=np.stack([lk.mid_at_knot for lk in lookups]),  # type: ignore[union-attr]
            quant=np.asarray(quant, dtype="int64"),
            quant_idx=np.asarray([with_lookup[k] for k in quant], dtype="int64"),
            lower=np.asarray([ind.direction == "lower" for ind in inds])[:, None],
            missing=np.asarray([ind.missing_score for ind in inds], dtype="float64")[:, None],
        )

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
        order = ["stage", "veto", "veto_reasons", "rank_zone", "rank_stage", "points_config_version",
                 "points_config_hash", *float_cols]  # fmt: skip
        return {"float": float_cols, "order": order}

    @property
    def columns(self) -> list[str]:
        """The output columns, in order."""
        return list(self._columns["order"])

    # ------------------------------------------------------------------ inputs
    def _environment(self, frame: pd.DataFrame, *, derived: bool = True) -> dict[str, Any]:
        """Columns the profile reads, as numpy arrays (numbers float64, flags bool, codes object), plus derived ones."""
        missing = [name for name in self._fields if name not in frame.columns]
        if missing:
            raise DataValidationError(
                f"column(s) required by the points profile are missing: {missing}", field=missing[0]
            )
        n = len(frame)
        env: dict[str, Any] = {}
        if n <= _SMALL:  # one conversion of the whole frame beats one pandas lookup per column
            columns = tuple(frame.columns)
            if columns != self._positions[0]:
                self._positions = (columns, frame.columns.get_indexer(self._fields))
            positions = self._positions[1]
            cells = frame.to_numpy(dtype=object)
            for k, name in enumerate(self._fields):
                env[name] = _convert(cells[:, positions[k]], self._field_kinds.get(name, "O"))
        else:
            for name in self._fields:
                col = frame[name]
                kind = col.dtype.kind if isinstance(col.dtype, np.dtype) else "O"
                env[name] = _convert(col.to_numpy(), kind) if kind != "O" else col.to_numpy(dtype=object)
        if derived:
            self._add_derived(env, n)
        return env

    def _add_derived(self, env: dict[str, Any], n: int) -> None:
        for name, expr in self._derived:
            env[name] = _as_float(expr.evaluate(env), n)

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
            values[j] = _evaluate(expr, env)
        values[~np.isfinite(values)] = np.nan
        return values

    # ------------------------------------------------------------------ scoring
    def score_values(
        self, codes: np.ndarray, values: np.ndarray, *, with_pct: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score fractions (0…1) and stage percentiles of raw indicator values, each ``(n_indicators, n)``.

        Needs a pinned reference. Percentiles are NaN where the value is missing or the stage uses
        fallback bands; without ``with_pct`` the second array is empty.
        """
        if self.reference is None:
            raise DataValidationError("score_values needs a pinned reference table", field="reference")
        m, n = values.shape
        scores = np.empty((m, n), dtype="float64")
        pcts = np.full((m, n), np.nan) if with_pct else np.empty((m, 0))
        if n == 0:
            return scores, pcts
        if (codes == codes[0]).all():
            self._score_stage(int(codes[0]), values, scores, pcts if with_pct else None)
            return scores, pcts
        small = codes.astype(np.uint8) if len(self._stage_mins) < 256 else codes  # uint8: a radix sort
        order = np.argsort(small, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(self._stage_mins)))])
        sorted_values = values[:, order]
        sorted_scores = np.empty_like(sorted_values)
        sorted_pcts = np.full_like(sorted_values, np.nan) if with_pct else None
        for s in range(len(self._stage_mins)):
            a, b = bounds[s], bounds[s + 1]
            if b > a:
                part_pct = sorted_pcts[:, a:b] if sorted_pcts is not None else None
                self._score_stage(s, sorted_values[:, a:b], sorted_scores[:, a:b], part_pct)
        scores[:, order] = sorted_scores
        if sorted_pcts is not None:
            pcts[:, order] = sorted_pcts
        return scores, pcts

    def _score_stage(self, s: int, values: np.ndarray, out: np.ndarray, pcts: np.ndarray | None) -> None:
        """Score the rows of one stage in place (``values``, ``out`` and ``pcts`` are views)."""
        full_at = self.config.scoring.full_at
        done: set[int] = set()  # indicators already scored
        pct_done: set[int] = set()  # indicators whose percentile is already written
        pack = self._packs[s]
        if pack is not None and values.shape[1] <= _SMALL:
            # the same arithmetic as PercentileLookup, for all indicators at once (bit-identical results)
            v = values[pack.idx]
            rows = np.arange(len(pack.idx))[:, None]
            seg = (pack.knots[:, None, :] <= v[:, :, None]).sum(axis=2)  # == searchsorted(side="right")
            left = pack.left_knot[rows, seg]
            lin = (v - left) * pack.slope[rows, seg]
            lin += pack.left_prob[rows, seg]
            pct = np.where(left == v, pack.mid_at_knot[rows, seg], lin)
            if pcts is not None:
                pcts[pack.idx] = pct
            q = pct[pack.quant]
            good = np.where(pack.lower, 1.0 - q, q)
            score = np.minimum(np.divide(good, full_at), 1.0)
            out[pack.quant_idx] = np.where(np.isnan(score), pack.missing, score)
            done = set(pack.quant_idx.tolist())
            pct_done = set(pack.idx.tolist())
        for j, ind in enumerate(self.config.indicators):
            if j in done:
                continue
            cell = self._cells[s][j]
            v = values[j]
            pct = None
            if cell.lookup is not None and j not in pct_done and (pcts is not None or cell.mode == _QUANTILE):
                pct = cell.lookup(v)
                if pcts is not None:
                    pcts[j] = pct
            if cell.mode == _QUANTILE and pct is not None:
                good = pct if ind.direction == "higher" else 1.0 - pct
                np.minimum(np.divide(good, full_at), 1.0, out=out[j])
                np.copyto(
                    out[j], ind.missing_score, where=np.isnan(out[j])
                )  # a missing value has a NaN percentile
                continue
            if cell.mode in (_BANDS, _BANDED) and cell.edges is not None and cell.scores is not None:
                score = np.take(cell.scores, np.searchsorted(cell.edges, v, side="right"))
            elif cell.mode == _TIER:
                tier = np.clip(v / float(ind.max_tier or 1), 0.0, 1.0)
                score = tier if ind.direction == "higher" else 1.0 - tier
            else:
                truth = v > 0
                score = (truth if ind.direction == "higher" else ~truth).astype("float64")
            out[j] = np.where(np.isnan(v), ind.missing_score, score)

    def _items(
        self, items: list[tuple[Any, Expression]], env: Mapping[str, Any], n: int, out: np.ndarray
    ) -> None:
        for k, (item, expr) in enumerate(items):
            raw = _as_float(_evaluate(expr, env), n)
            raw = np.where(np.isnan(raw) | (raw < 0), 0.0, raw)
            pts = raw * item.points
            out[k] = np.minimum(pts, item.cap) if item.cap is not None else pts

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score a frame of validated applicant records (same index, columns per :attr:`columns`)."""
        if self.reference is None:
            own = PointsScorer(self.config, build_reference(frame, self.config), threads=self.threads)
            return own.score(frame)
        return self.frame_of(frame.index, *self.score_arrays(frame))

    def score_arrays(self, frame: pd.DataFrame) -> tuple[dict[str, Any], np.ndarray]:
        """The points of a frame as arrays, before any frame is built (needs a pinned reference).

        Returns:
            ``(head, block)``: the text, flag and rank columns by name (``stage`` ... ``points_config_hash``),
            and a float64 ``(len(float columns), n)`` block whose rows are the numeric columns in
            :attr:`columns` order. :meth:`frame_of` turns them into the frame :meth:`score` returns.
        """
        if self.reference is None:
            raise DataValidationError("score_arrays needs a pinned reference table", field="reference")
        n = len(frame)
        env = self._environment(frame, derived=False)
        codes = self.stage_codes(env)
        # one (columns, rows) block: each output column is a contiguous row, and pandas keeps it as one block
        block = np.empty((len(self._columns["float"]), n), dtype="float64")
        veto_code = np.zeros(n, dtype="int64")
        starts = range(0, max(n, 1), _CHUNK)  # chunks keep the working set in cache; results are per row

        def run(a: int) -> None:
            b = min(n, a + _CHUNK)
            part = env if (a, b) == (0, n) else {k: v[a:b] for k, v in env.items()}
            self._add_derived(part, b - a)
            self._fill(part, codes[a:b], block[:, a:b], veto_code[a:b])  # disjoint slices: no shared writes

        if self.threads > 1 and len(starts) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                list(pool.map(run, starts))
        else:
            for a in starts:
                run(a)
        veto = veto_code != 0
        reasons = self._reasons(veto_code) if n <= _SMALL or self._veto_table is None else veto_code
        if self.reference.ranking:
            zone_field = self.config.zone_field
            zones = (
                frame[zone_field].astype(str).to_numpy() if zone_field in frame.columns else np.full(n, "")
            )
            rank_zone, rank_stage = self.reference.rank(zones, self._stage_ids[codes], block[0], veto)
        else:  # a table without the population's totals: ranks within this batch
            zone_codes = self._zone_codes(frame, n)
            rank_zone, rank_stage = _ranks(zone_codes, codes, len(self._stage_mins), block[0], veto)
            rank_zone, rank_stage = rank_zone.astype("float64"), rank_stage.astype("float64")
        return self._head(n, codes, veto, reasons, rank_zone, rank_stage), block

    @property
    def float_columns(self) -> list[str]:
        """Names of the rows of the block :meth:`score_arrays` returns, in order."""
        return list(self._columns["float"])

    def _fill(self, env: dict[str, Any], codes: np.ndarray, block: np.ndarray, veto_code: np.ndarray) -> None:
        """Score one chunk into its view of the output block and its slice of the veto codes."""
        cfg = self.config
        n = len(codes)
        values = self._values(env, n)
        m = values.shape[0]
        n_cat = len(self._cat_members)
        n_bonus = len(self._bonus)
        total, core, bonus, deductions = block[0], block[1], block[2], block[3]
        cats = block[4 : 4 + n_cat]
        start = 4 + n_cat
        bonus_items = block[start + 3 * m : start + 3 * m + n_bonus]
        deduction_items = block[start + 3 * m + n_bonus :]

        scores, pcts = self.score_values(codes, values)
        points = scores * np.take(self._weights_by_indicator, codes, axis=1)
        block[start : start + 3 * m : 3] = values
        block[start + 1 : start + 3 * m : 3] = pcts
        block[start + 2 : start + 3 * m : 3] = points
        cats[:] = 0.0
        core[:] = 0.0
        for c, members in enumerate(self._cat_members):
            for j in members:  # a fixed order of additions: identical in any batch
                cats[c] += points[j]
            core += cats[c]
        self._items(self._bonus, env, n, bonus_items)
        self._items(self._deductions, env, n, deduction_items)
        np.minimum(_ordered_sum(bonus_items, n), cfg.bonus.cap, out=bonus)
        np.minimum(_ordered_sum(deduction_items, n), cfg.deductions.cap, out=deductions)
        np.maximum(0.0, core + bonus - deductions, out=total)
        for k, (_, expr) in enumerate(self._vetoes):
            veto_code |= _as_bool(_evaluate(expr, env), n).astype("int64") << k

    def _reasons(self, veto_code: np.ndarray) -> np.ndarray:
        if self._veto_table is not None:
            return self._veto_table[veto_code]
        uniq, inverse = np.unique(veto_code, return_inverse=True)
        ids = [vid for vid, _ in self._vetoes]
        labels = [";".join(ids[k] for k in range(len(ids)) if int(u) >> k & 1) for u in uniq]
        return np.asarray(labels, dtype=object)[inverse]

    def _head(
        self,
        n: int,
        codes: np.ndarray,
        veto: np.ndarray,
        reasons: np.ndarray,  # strings, or veto codes into the veto table on the large path
        rank_zone: np.ndarray,
        rank_stage: np.ndarray,
    ) -> dict[str, Any]:
        if n <= _SMALL:
            stage = pd.array(self._stage_ids[codes], dtype="str")
            reason_col = pd.array(reasons, dtype="str")
            version = pd.array([self.config.version] * n, dtype="str")
            digest = pd.array([self.config_hash] * n, dtype="str")
        else:  # built in Arrow: no Python string object per row
            import pyarrow as pa
            import pyarrow.compute as pc

            stage = pd.array(pc.take(pa.array(list(self._stage_ids), pa.large_string()), codes), dtype="str")
            if self._veto_table is None:
                reason_col = pd.array(reasons, dtype="str")
            else:
                reason_col = pd.array(
                    pc.take(pa.array(list(self._veto_table), pa.large_string()), reasons), dtype="str"
                )
            version = pd.array(pa.repeat(pa.scalar(self.config.version, pa.large_string()), n), dtype="str")
            digest = pd.array(pa.repeat(pa.scalar(self.config_hash, pa.large_string()), n), dtype="str")
        return {
            "stage": stage,
            "veto": veto,
            "veto_reasons": reason_col,
            "rank_zone": rank_zone,
            "rank_stage": rank_stage,
            "points_config_version": version,
            "points_config_hash": digest,
        }

    def frame_of(self, index: pd.Index, head: dict[str, Any], block: np.ndarray) -> pd.DataFrame:
        """The points frame of :meth:`score` from the arrays of :meth:`score_arrays`."""
        n = block.shape[1]
        body = pd.DataFrame(block.T, index=index, columns=self._columns["float"], copy=False)
        if n <= _SMALL:  # few rows: one concatenation is cheapest
            return pd.concat([pd.DataFrame(head, index=index), body], axis=1)
        for position, (name, column) in enumerate(head.items()):  # many rows: inserting avoids a realignment
            body.insert(position, name, column)
        return body

    def _zone_codes(self, frame: pd.DataFrame, n: int) -> np.ndarray:
        zone = self.config.zone_field
        if zone not in frame.columns or n <= 1:
            return np.zeros(n, dtype="int64")
        codes, _ = pd.factorize(frame[zone], use_na_sentinel=False)
        return np.asarray(codes, dtype="int64")


_SMALL = 64


def _catalogue_kinds() -> dict[str, str]:
    """numpy kind of every field of the applicant record (``f`` numbers, ``b`` flags, ``O`` text)."""
    from credit_points.points.config import field_catalogue

    _, _, dtypes = field_catalogue()
    return {name: {"float": "f", "int": "f", "bool": "b"}.get(dtype, "O") for name, dtype in dtypes.items()}


_CHUNK = 1 << 16


def _convert(col: np.ndarray, kind: str) -> np.ndarray:
    if kind in "iuf":
        return np.asarray(col, dtype="float64")
    if kind == "b":
        return np.asarray(col, dtype=bool)
    return col


def _evaluate(expr: Expression, env: Mapping[str, Any]) -> Any:
    """An expression's value; a bare field name is looked up directly."""
    if expr.source in env:
        return env[expr.source]
    return expr.evaluate(env)


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


def _ranks(
    zones: np.ndarray, stages: np.ndarray, n_stages: int, points: np.ndarray, veto: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Ranks within zone and within zone × stage, 1 = best (see :func:`_group_rank`)."""
    n = len(points)
    if n <= 1:
        return np.ones(n, dtype="int64"), np.ones(n, dtype="int64")
    by_points = np.argsort(-points, kind="stable")
    return (
        _group_rank(zones, points, veto, by_points),
        _group_rank(zones * n_stages + stages, points, veto, by_points),
    )


def _group_rank(
    groups: np.ndarray, points: np.ndarray, veto: np.ndarray, by_points: np.ndarray | None = None
) -> np.ndarray:
    """Rank within each group, 1 = best: eligible firms before vetoed ones, then more points; ties share the best rank.

    Examples:
        >>> _group_rank(np.array([0, 0, 0, 1]), np.array([5.0, 9.0, 5.0, 1.0]), np.array([False] * 4)).tolist()
        [2, 1, 2, 1]
        >>> _group_rank(np.array([0, 0]), np.array([5.0, 9.0]), np.array([False, True])).tolist()
        [1, 2]
    """
    n = len(points)
    if n <= 1:
        return np.ones(n, dtype="int64")
    if by_points is None:
        by_points = np.argsort(-points, kind="stable")
    key = groups.astype("int64") * 2 + veto
    sort_key = key[by_points]
    if sort_key.max() < 65536:
        sort_key = sort_key.astype(np.uint16)  # a radix sort
    order = by_points[np.argsort(sort_key, kind="stable")]
    k, p = key[order], points[order]
    idx = np.arange(n)
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(k[1:] // 2, k[:-1] // 2, out=new_group[1:])
    new_run = new_group.copy()
    new_run[1:] |= (p[1:] != p[:-1]) | (k[1:] != k[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, idx, 0))
    run_start = np.maximum.accumulate(np.where(new_run, idx, 0))
    ranks = np.empty(n, dtype="int64")
    ranks[order] = run_start - group_start + 1
    return ranks


def _ranking(
    frame: pd.DataFrame, config: PointsConfig, table: ReferenceTable
) -> dict[str, dict[str, dict[str, Any]]]:
    """Score the reference population against its own table and keep its eligible firms' totals by group."""
    scored = PointsScorer(config, table).score(frame)
    eligible = ~scored["veto"].to_numpy(dtype=bool)
    points = scored["points_total"].to_numpy(dtype="float64")[eligible]
    zone_field = config.zone_field
    zones = (
        frame[zone_field].astype(str).to_numpy() if zone_field in frame.columns else np.full(len(frame), "")
    )[eligible]
    stages = scored["stage"].astype(str).to_numpy()[eligible]
    keys = np.char.add(np.char.add(zones.astype(str), "|"), stages.astype(str))
    return {
        "zone": {str(z): rank_group_summary(points[zones == z]) for z in np.unique(zones)},
        "zone_stage": {str(k): rank_group_summary(points[keys == k]) for k in np.unique(keys)},
    }


def build_reference(frame: pd.DataFrame, config: PointsConfig, *, label: str = "") -> ReferenceTable:
    """Build the reference table of a population of applicants (a zone's scored firms of a year).

    Args:
        frame: validated applicant records.
        config: the points profile (stages, derived indicators, indicator sources).
        label: free text stored with the table.

    Raises:
        DataValidationError: when a stage cannot be assigned (missing or out-of-range stage field).

    Examples:
        >>> from credit_points.points.config import load_points_config
        >>> from credit_points.points.testing import example_frame
        >>> ref = build_reference(example_frame(40), load_points_config("torch-18"))
        >>> ref.stages["growth"]["n_firms"], len(ref.probs)
        (7, 101)
    """
    scorer = PointsScorer(config, None)
    codes, matrix = scorer.indicator_values(frame)
    probs = np.linspace(0.0, 1.0, config.scoring.quantiles)
    stages: dict[str, dict[str, Any]] = {}
    for s, stage in enumerate(config.stage_ids):
        in_stage = codes == s
        body: dict[str, Any] = {"n_firms": int(in_stage.sum()), "indicators": {}}
        if body["n_firms"]:
            sub = matrix[:, in_stage]
            for j, ind_id in enumerate(config.indicator_ids):
                col = sub[j]
                col = col[np.isfinite(col)]
                if col.size:
                    knots = np.quantile(col, probs, method="linear")
                    knots = np.maximum.accumulate(knots)  # guard against rounding making knots non-monotone
                    body["indicators"][ind_id] = StageIndicatorTable(
                        n=int(col.size), quantiles=tuple(map(float, knots))
                    )
        stages[stage] = body
    fallback: dict[str, dict[str, dict[str, list[float]]]] = {}
    for stage in config.stage_ids:
        for ind in config.indicators:
            bands = config.fallback_bands(ind, stage) if ind.kind == "percentile" else None
            if bands is not None:
                fallback.setdefault(stage, {})[ind.id] = {
                    "edges": list(bands.edges),
                    "scores": list(bands.scores),
                }
    table = ReferenceTable(
        profile=config.profile,
        reference_key=config.reference_key,
        probs=tuple(map(float, probs)),
        min_firms=config.scoring.min_firms,
        stages=stages,
        fallback=fallback,
        label=label,
    )
    return replace(table, ranking=_ranking(frame, config, table))


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
        >>> bool(out["points_total"].between(0, 125).all()), int(out["rank_zone"].min())
        (True, 1)
    """
    return PointsScorer(config, reference).score(frame)
