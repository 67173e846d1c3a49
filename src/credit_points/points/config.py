"""The points configuration (``configs/points/*.yaml``): stages, indicators, weights, bonus, deductions, vetoes.

A zone is a YAML file, not code. The model below validates the structure (strict, frozen pydantic) and
the meaning: stage cut-offs without gaps or overlaps, category totals that add up to the declared scale in
every stage, expressions that only name known fields (``configs/fields.yaml``) or declared derived
indicators, and category literals (``tax_credit_grade == 'D'``) that exist in the field's enum. Every
problem names the key; :func:`load_points_config` adds the file.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from credit_points.config import (
    CONFIG_DIR,
    StrictModel,
    VersionedConfig,
    config_hash,
    deep_merge,
    read_yaml,
    resolve_config_path,
)
from credit_points.exceptions import ConfigError
from credit_points.expressions import compile_expression

SNAKE = r"^[a-z][a-z0-9_]*$"
IndicatorKind = Literal["percentile", "tier", "boolean", "banded"]
Direction = Literal["higher", "lower"]
Unit = Literal["yuan", "ratio", "count", "tier", "flag", "days", "yuan_per_person", "score"]


class Stage(StrictModel):
    """A growth stage: ``min <= stage_field < max`` (lower bound inclusive; ``max`` null = open)."""

    id: str = Field(pattern=SNAKE)
    label_zh: str
    label_en: str
    min: float
    max: float | None = None


class Bands(StrictModel):
    """Fixed bands: a value in ``[edges[k-1], edges[k])`` scores ``scores[k]`` (a fraction of the weight).

    ``scores`` has one more entry than ``edges``: ``scores[0]`` is below the first edge.
    """

    edges: tuple[float, ...]
    scores: tuple[float, ...]

    @model_validator(mode="after")
    def _shape(self) -> Bands:
        if len(self.scores) != len(self.edges) + 1:
            raise ValueError(
                f"bands need len(scores) == len(edges) + 1; got {len(self.edges)} edges, {len(self.scores)} scores"
            )
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"band edges must be strictly increasing; got {list(self.edges)}")
        if any(not 0.0 <= s <= 1.0 for s in self.scores):
            raise ValueError(f"band scores must lie in [0, 1]; got {list(self.scores)}")
        return self

    def score(self, values: np.ndarray) -> np.ndarray:
        """Score of each value (NaN stays NaN).

        Examples:
            >>> Bands(edges=(1.0, 5.0), scores=(0.0, 0.5, 1.0)).score(np.array([0.0, 1.0, 4.9, 5.0])).tolist()
            [0.0, 0.5, 0.5, 1.0]
        """
        idx = np.searchsorted(np.asarray(self.edges, dtype="float64"), values, side="right")
        out = np.asarray(self.scores, dtype="float64")[idx]
        return np.where(np.isnan(values), np.nan, out)


class Fallback(StrictModel):
    """Fallback bands for a percentile indicator: a default set and/or one set per stage."""

    edges: tuple[float, ...] | None = None
    scores: tuple[float, ...] | None = None
    by_stage: dict[str, Bands] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_complete(self) -> Fallback:
        if (self.edges is None) != (self.scores is None):
            raise ValueError("fallback needs both 'edges' and 'scores' (or neither, with 'by_stage')")
        if self.edges is not None:
            Bands(edges=self.edges, scores=self.scores or ())
        return self

    def for_stage(self, stage: str) -> Bands | None:
        if stage in self.by_stage:
            return self.by_stage[stage]
        if self.edges is not None and self.scores is not None:
            return Bands(edges=self.edges, scores=self.scores)
        return None


class Category(StrictModel):
    """A first-level category (e.g. 技术创新) with its points total in each stage."""

    id: str = Field(pattern=SNAKE)
    label_zh: str
    label_en: str
    totals: dict[str, float]


class Derived(StrictModel):
    """An indicator computed from record fields, e.g. ``rd_intensity = rd_expense / revenue``.

    The expression defines the zero-denominator behaviour (``safe_div(a, b, default)``).
    """

    id: str = Field(pattern=SNAKE)
    label_zh: str
    label_en: str
    expr: str
    note: str | None = None


class Indicator(StrictModel):
    """One scored indicator.

    Attributes:
        source: expression for the raw value (default: the field or derived indicator named ``id``).
        weight: base weight; scaled within its category to the category's stage total.
        stage_weights: base weight per stage where it differs from ``weight``.
        max_tier: for ``tier`` indicators, the top tier (score = tier / max_tier).
        bands: for ``banded`` indicators.
        fallback: for ``percentile`` indicators, bands used where a stage has too few reference firms;
            inline, or the name of an entry of ``band_sets``.
        integer: the raw value is a count or tier (targets are rounded to whole units).
        actionable: the firm can act on it (weak-spot diagnosis considers only these).
        missing_score: score fraction when the value is missing.
    """

    id: str = Field(pattern=SNAKE)
    label_zh: str
    label_en: str
    category: str
    kind: IndicatorKind
    direction: Direction = "higher"
    source: str | None = None
    weight: float = Field(ge=0)
    stage_weights: dict[str, float] = Field(default_factory=dict)
    unit: Unit = "count"
    integer: bool = False
    max_tier: int | None = Field(default=None, ge=1)
    bands: Bands | None = None
    fallback: Fallback | str | None = None
    actionable: bool = False
    missing_score: float = Field(default=0.0, ge=0, le=1)

    @property
    def expr(self) -> str:
        return self.source or self.id


class Item(StrictModel):
    """A bonus or deduction item: ``min(cap, points × value)``; a condition counts as 1."""

    id: str = Field(pattern=SNAKE)
    label_zh: str
    label_en: str
    expr: str
    points: float = Field(gt=0)
    cap: float | None = Field(default=None, gt=0)


class ItemGroup(StrictModel):
    """Bonus (加分) or deductions (减分) with the cap of the group."""

    cap: float = Field(ge=0)
    items: tuple[Item, ...] = ()


class Veto(StrictModel):
    """A veto condition (一票否决): true makes the firm ineligible whatever its points."""

    id: str = Field(pattern=SNAKE)
    label_zh: str
    label_en: str
    expr: str


class WeightMove(StrictModel):
    """Move the whole base weight of ``move`` to ``to`` in one stage (e.g. seed: revenue → rd_intensity)."""

    move: str
    to: str


class Scoring(StrictModel):
    """The percentile rule: ``s = min(1, pct / full_at)`` within the stage of a reference population."""

    full_at: float = Field(default=0.90, gt=0, le=1)
    min_firms: int = Field(default=30, ge=1)
    quantiles: int = Field(default=101, ge=3, le=1001)
    targets: dict[str, float] = Field(default_factory=lambda: {"median": 0.5, "p75": 0.75})


class PointsConfig(VersionedConfig):
    """A zone's innovation-points scheme."""

    kind: Literal["points"] = "points"
    profile: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label_zh: str
    label_en: str
    scale: float = Field(gt=0)
    stage_field: str = "revenue"
    zone_field: str = "zone"
    rescale_weights: bool = True
    stages: tuple[Stage, ...] = Field(min_length=1)
    scoring: Scoring = Field(default_factory=Scoring)
    categories: tuple[Category, ...] = Field(min_length=1)
    derived: tuple[Derived, ...] = ()
    band_sets: dict[str, Fallback] = Field(default_factory=dict)
    indicators: tuple[Indicator, ...] = Field(min_length=1)
    weight_moves: dict[str, tuple[WeightMove, ...]] = Field(default_factory=dict)
    bonus: ItemGroup
    deductions: ItemGroup
    vetoes: tuple[Veto, ...] = ()

    @model_validator(mode="after")
    def _meaning(self) -> PointsConfig:
        problems = _check(self)
        if problems:
            error = ConfigError("; ".join(f"{loc}: {msg}" for loc, msg in problems))
            error.location = problems[0][0]
            raise error
        return self

    # ------------------------------------------------------------------ derived state
    @property
    def stage_ids(self) -> list[str]:
        return [s.id for s in self.stages]

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.categories]

    @property
    def indicator_ids(self) -> list[str]:
        return [i.id for i in self.indicators]

    @cached_property
    def indicator_by_id(self) -> dict[str, Indicator]:
        return {i.id: i for i in self.indicators}

    @cached_property
    def stage_weight_matrix(self) -> np.ndarray:
        """Effective weights, shape ``(n_stages, n_indicators)``; each row adds up to ``scale``."""
        return _weights(self)

    def fallback_bands(self, indicator: Indicator, stage: str) -> Bands | None:
        """The fallback bands of a percentile indicator in a stage (``None`` when it has none)."""
        spec = indicator.fallback
        if isinstance(spec, str):
            spec = self.band_sets.get(spec)
        return spec.for_stage(stage) if spec is not None else None

    @property
    def reference_key(self) -> str:
        """Hash of what a reference table depends on: stages, derived indicators, indicator sources."""
        return config_hash(
            {
                "stage_field": self.stage_field,
                "stages": [[s.id, s.min, s.max] for s in self.stages],
                "derived": [[d.id, d.expr] for d in self.derived],
                "indicators": [[i.id, i.expr] for i in self.indicators],
                "quantiles": self.scoring.quantiles,
            }
        )

    def label(self, obj_id: str, lang: str = "zh") -> str:
        """Label of an indicator, category, stage, item or veto id."""
        for group in (self.indicators, self.categories, self.stages, self.derived, self.vetoes,
                      self.bonus.items, self.deductions.items):  # fmt: skip
            for obj in group:
                if obj.id == obj_id:
                    return str(obj.label_zh if lang == "zh" else obj.label_en)
        return obj_id


# ---------------------------------------------------------------------- checks
@lru_cache(maxsize=1)
def field_catalogue() -> tuple[frozenset[str], dict[str, tuple[str, ...]], dict[str, str]]:
    """Names, category enums and dtypes of the applicant record (``configs/fields.yaml``), read once."""
    from credit_points.datasets.fields import load_fields

    fields = load_fields()
    enums = {f.name: f.enum for f in fields.fields if f.enum is not None}
    return frozenset(fields.names), enums, {f.name: f.dtype for f in fields.fields}


def _literal_strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _check_expression(
    source: str, known: set[str], enums: Mapping[str, Sequence[str]], where: str
) -> list[tuple[str, str]]:
    try:
        expr = compile_expression(source)
    except ConfigError as exc:
        return [(where, str(exc))]
    unknown = sorted(expr.names - known)
    if unknown:
        return [(where, f"expression {source!r} uses unknown field(s) {unknown}")]
    problems = []
    for node in ast.walk(ast.parse(source, mode="eval")):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        names = [o.id for o in operands if isinstance(o, ast.Name) and o.id in enums]
        for name in names:
            for operand in operands:
                for literal in _literal_strings(operand):
                    if literal not in enums[name]:
                        problems.append(
                            (
                                where,
                                f"expression {source!r}: {literal!r} is not a category of {name!r}; "
                                f"expected one of {list(enums[name])}",
                            )  # fmt: skip
                        )
    return problems


def _check(cfg: PointsConfig) -> list[tuple[str, str]]:  # noqa: C901 - one flat list of checks reads best
    problems: list[tuple[str, str]] = []
    fields, enums, _ = field_catalogue()
    stage_ids = cfg.stage_ids

    # stages: ordered, contiguous, only the last open
    if cfg.stage_field not in fields:
        problems.append(("stage_field", f"unknown field {cfg.stage_field!r}"))
    if len(set(stage_ids)) != len(stage_ids):
        problems.append(("stages", f"duplicate stage ids {stage_ids}"))
    for k, spec in enumerate(cfg.stages):
        last = k == len(cfg.stages) - 1
        if spec.max is None and not last:
            problems.append((f"stages.{k}.max", f"stage {spec.id!r}: only the last stage may be open-ended"))
        if spec.max is not None and spec.max <= spec.min:
            problems.append(
                (f"stages.{k}.max", f"stage {spec.id!r}: max {spec.max} must exceed min {spec.min}")
            )
        if k > 0:
            prev = cfg.stages[k - 1]
            if prev.max is not None and spec.min > prev.max:
                problems.append((f"stages.{k}.min", f"gap between stage {prev.id!r} (max {prev.max:,.2f}) and "
                                                    f"{spec.id!r} (min {spec.min:,.2f})"))  # fmt: skip
            elif prev.max is not None and spec.min < prev.max:
                problems.append((f"stages.{k}.min", f"overlap between stage {prev.id!r} (max {prev.max:,.2f}) and "
                                                    f"{spec.id!r} (min {spec.min:,.2f})"))  # fmt: skip
    if cfg.stages[-1].max is not None:
        problems.append(
            (f"stages.{len(cfg.stages) - 1}.max", "the last stage must be open-ended (max: null)")
        )

    # categories and their totals
    cat_ids = cfg.category_ids
    if len(set(cat_ids)) != len(cat_ids):
        problems.append(("categories", f"duplicate category ids {cat_ids}"))
    for c, cat in enumerate(cfg.categories):
        for stage in cat.totals:
            if stage not in stage_ids:
                problems.append(
                    (
                        f"categories.{c}.totals.{stage}",
                        f"unknown stage {stage!r}; expected one of {stage_ids}",
                    )
                )
        for stage in stage_ids:
            if stage not in cat.totals:
                problems.append(
                    (f"categories.{c}.totals", f"category {cat.id!r} has no total for stage {stage!r}")
                )
            elif cat.totals[stage] < 0:
                problems.append((f"categories.{c}.totals.{stage}", f"negative total {cat.totals[stage]}"))
    for stage in stage_ids:
        total = sum(cat.totals.get(stage, 0.0) for cat in cfg.categories)
        if not math.isclose(total, cfg.scale, rel_tol=0, abs_tol=1e-9 * max(1.0, cfg.scale)):
            problems.append((f"categories.*.totals.{stage}",
                             f"category totals of stage {stage!r} add up to {total:g}; expected the scale {cfg.scale:g}"))  # fmt: skip

    # derived indicators: names known in declaration order
    known = set(fields)
    for d, der in enumerate(cfg.derived):
        if der.id in known:
            problems.append((f"derived.{d}.id", f"{der.id!r} is already a field or derived indicator"))
        problems += _check_expression(der.expr, known, enums, f"derived.{d}.expr")
        known.add(der.id)

    # indicators
    ind_ids = cfg.indicator_ids
    if len(set(ind_ids)) != len(ind_ids):
        dupes = sorted({i for i in ind_ids if ind_ids.count(i) > 1})
        problems.append(("indicators", f"duplicate indicator ids {dupes}"))
    for i, ind in enumerate(cfg.indicators):
        at = f"indicators.{i}"
        if ind.category not in cat_ids:
            problems.append(
                (
                    f"{at}.category",
                    f"indicator {ind.id!r}: unknown category {ind.category!r}; expected one of {cat_ids}",
                )
            )
        problems += _check_expression(ind.expr, known, enums, f"{at}.source" if ind.source else f"{at}.id")
        for stage in ind.stage_weights:
            if stage not in stage_ids:
                problems.append((f"{at}.stage_weights.{stage}", f"unknown stage {stage!r}"))
            elif ind.stage_weights[stage] < 0:
                problems.append(
                    (f"{at}.stage_weights.{stage}", f"negative weight {ind.stage_weights[stage]}")
                )
        if ind.kind == "tier" and ind.max_tier is None:
            problems.append((f"{at}.max_tier", f"tier indicator {ind.id!r} needs max_tier"))
        if ind.kind == "banded":
            if ind.bands is None:
                problems.append((f"{at}.bands", f"banded indicator {ind.id!r} needs bands"))
            else:
                problems += _check_band_direction(ind.bands, ind.direction, f"{at}.bands")
        if ind.kind == "percentile":
            if isinstance(ind.fallback, str) and ind.fallback not in cfg.band_sets:
                problems.append(
                    (
                        f"{at}.fallback",
                        f"unknown band set {ind.fallback!r}; expected one of {sorted(cfg.band_sets)}",
                    )
                )
                continue
            fallback = cfg.band_sets.get(ind.fallback) if isinstance(ind.fallback, str) else ind.fallback
            if fallback is not None:
                for stage in fallback.by_stage:
                    if stage not in stage_ids:
                        problems.append((f"{at}.fallback.by_stage.{stage}", f"unknown stage {stage!r}"))
            for stage in stage_ids:
                bands = fallback.for_stage(stage) if fallback is not None else None
                if bands is None:
                    problems.append(
                        (f"{at}.fallback", f"indicator {ind.id!r} has no fallback bands for stage {stage!r}")
                    )
                else:
                    problems += _check_band_direction(bands, ind.direction, f"{at}.fallback")
    # weight moves
    for stage, moves in cfg.weight_moves.items():
        if stage not in stage_ids:
            problems.append(
                (f"weight_moves.{stage}", f"unknown stage {stage!r}; expected one of {stage_ids}")
            )
        for m, move in enumerate(moves):
            for key, ref in (("move", move.move), ("to", move.to)):
                if ref not in ind_ids:
                    problems.append((f"weight_moves.{stage}.{m}.{key}", f"unknown indicator {ref!r}"))
    # bonus, deductions, vetoes
    for group_name, group in (("bonus", cfg.bonus), ("deductions", cfg.deductions)):
        ids = [it.id for it in group.items]
        if len(set(ids)) != len(ids):
            problems.append((f"{group_name}.items", f"duplicate item ids {ids}"))
        for k, item in enumerate(group.items):
            problems += _check_expression(item.expr, known, enums, f"{group_name}.items.{k}.expr")
    veto_ids = [v.id for v in cfg.vetoes]
    if len(set(veto_ids)) != len(veto_ids):
        problems.append(("vetoes", f"duplicate veto ids {veto_ids}"))
    for k, veto in enumerate(cfg.vetoes):
        problems += _check_expression(veto.expr, known, enums, f"vetoes.{k}.expr")

    if not problems:
        try:
            _weights(cfg)
        except ConfigError as exc:
            problems.append((exc.location or "indicators", str(exc).split(": ", 1)[-1]))
    return problems


def _check_band_direction(bands: Bands, direction: str, where: str) -> list[tuple[str, str]]:
    scores = np.asarray(bands.scores)
    steps = np.diff(scores)
    if direction == "higher" and (steps < 0).any():
        return [
            (where, f"scores must not decrease for a higher-is-better indicator; got {list(bands.scores)}")
        ]
    if direction == "lower" and (steps > 0).any():
        return [
            (where, f"scores must not increase for a lower-is-better indicator; got {list(bands.scores)}")
        ]
    return []


def _weights(cfg: PointsConfig) -> np.ndarray:
    ind_index = {ind.id: j for j, ind in enumerate(cfg.indicators)}
    weights = np.zeros((len(cfg.stages), len(cfg.indicators)))
    for s, stage in enumerate(cfg.stages):
        base = np.array(
            [ind.stage_weights.get(stage.id, ind.weight) for ind in cfg.indicators], dtype="float64"
        )
        for move in cfg.weight_moves.get(stage.id, ()):
            src, dst = ind_index[move.move], ind_index[move.to]
            base[dst] += base[src]
            base[src] = 0.0
        for c, cat in enumerate(cfg.categories):
            members = np.array([ind.category == cat.id for ind in cfg.indicators])
            target = cat.totals.get(stage.id, 0.0)
            subtotal = float(base[members].sum())
            if not cfg.rescale_weights:
                if not math.isclose(subtotal, target, rel_tol=0, abs_tol=1e-9 * max(1.0, cfg.scale)):
                    raise ConfigError(
                        f"weights of category {cat.id!r} in stage {stage.id!r} add up to {subtotal:g}; "
                        f"expected its total {target:g} (rescale_weights is false)",
                        location=f"categories.{c}.totals.{stage.id}",
                    )
                weights[s, members] = base[members]
            elif subtotal == 0:
                if target > 0:
                    raise ConfigError(
                        f"category {cat.id!r} has total {target:g} in stage {stage.id!r} but no weighted indicator",
                        location=f"categories.{c}.totals.{stage.id}",
                    )
            else:
                weights[s, members] = base[members] * (target / subtotal)
    return weights


# ---------------------------------------------------------------------- loading
def _problem_lines(exc: ValidationError) -> tuple[str | None, str]:
    locations: list[str] = []
    messages: list[str] = []
    for err in exc.errors():
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, ConfigError):
            locations.append(inner.location or "(top level)")
            messages.append(str(inner))
        else:
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            locations.append(loc)
            messages.append(f"{loc}: {err['msg']}")
    return (locations[0] if locations else None), "; ".join(messages)


def load_points_config(name_or_path: str | Path, overlays: Sequence[str | Path] = ()) -> PointsConfig:
    """Load a points profile by name (``configs/points/<name>.yaml``) or path, with overlays merged over it.

    Raises:
        ConfigError: naming the file and the key of the first problem, and listing all of them.

    Examples:
        >>> cfg = load_points_config("torch-18")
        >>> cfg.profile, len(cfg.indicators), cfg.category_ids
        ('torch-18', 18, ['tech', 'growth', 'aux'])
    """
    path = resolve_config_path(name_or_path, "points")
    data: dict[str, Any] = read_yaml(path)
    for overlay in overlays:
        data = deep_merge(data, read_yaml(resolve_config_path(overlay, "points")))
    if data.get("kind") != "points":
        raise ConfigError(
            f"expected kind 'points'; got {data.get('kind')!r}", path=str(path), location="kind"
        )
    try:
        return PointsConfig.model_validate(data)
    except ValidationError as exc:
        location, message = _problem_lines(exc)
        error = ConfigError(message, path=str(path))
        error.location = location
        raise error from None


def profile_names() -> list[str]:
    """Names of the shipped profiles under ``configs/points/``."""
    return sorted(p.stem for p in (CONFIG_DIR / "points").glob("*.yaml"))
