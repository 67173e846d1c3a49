"""Policy configuration: the bank's global lending settings and the product catalogue, as validated models.

A policy file (``configs/policy/<name>.yaml``, ``kind: policy``) holds what is common to every product
(LPR, capital and cost spreads, LGD, EAD conversion, decision thresholds, refer rules, the product choice
rule, rounding) and names its products in ``catalogue``. Each product lives in its own file
(``configs/products/<id>.yaml``, ``kind: product``). :func:`load_policy` reads the policy, resolves and
embeds every product, so one :class:`PolicyConfig` object -- and one ``content_hash`` -- pins the whole
policy a decision was made under.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, model_validator

from credit_points.config import (
    CONFIG_DIR,
    StrictModel,
    VersionedConfig,
    deep_merge,
    read_yaml,
    resolve_config_path,
    validate_mapping,
)
from credit_points.exceptions import ConfigError
from credit_points.expressions import compile_expression

_ID = r"^[a-z][a-z0-9_]*$"

#: Columns the points and PD stages add to the applicant record; policy expressions may use them.
UPSTREAM_COLUMNS: frozenset[str] = frozenset(
    {
        "stage",
        "points_total",
        "points_core",
        "points_bonus",
        "points_deductions",
        "veto",
        "rank_zone",
        "rank_stage",
        "prob_default",
        "grade",
        "raw_score",
    }
)
#: Column families produced upstream whose names depend on the points profile.
UPSTREAM_PATTERNS: tuple[str, ...] = (
    r"^points_cat_[a-z0-9_]+$",
    r"^deduction_[a-z0-9_]+$",
    r"^bonus_[a-z0-9_]+$",
)
#: Columns the policy engine derives itself before evaluating rules.
ENGINE_COLUMNS: frozenset[str] = frozenset({"firm_age_years"})


def _check_expression(source: str, where: str) -> str:
    try:
        compile_expression(source)
    except ConfigError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return source


class Rule(StrictModel):
    """A declarative rule: the applicant passes where ``expression`` is true.

    Attributes:
        id: snake-case id, recorded in ``failed_rules_<product>`` and mapped to a reason code.
        expression: a :mod:`credit_points.expressions` expression over record, points and PD columns.
        text_zh: the rule in Chinese, as the bank's credit manual states it.
        text_en: the rule in English.
    """

    id: str = Field(pattern=_ID)
    expression: str
    text_zh: str
    text_en: str

    @model_validator(mode="after")
    def _parses(self) -> Rule:
        _check_expression(self.expression, f"rule {self.id!r}")
        return self


class DerivedColumn(StrictModel):
    """A helper column computed before the rules (e.g. ``rd_intensity``)."""

    id: str = Field(pattern=_ID)
    expression: str
    label_zh: str
    label_en: str

    @model_validator(mode="after")
    def _parses(self) -> DerivedColumn:
        _check_expression(self.expression, f"derived column {self.id!r}")
        return self


class PointsBand(StrictModel):
    """Points at or above ``min_points`` earn ``multiplier`` (until the next band up).

    The last band may leave ``min_points`` empty (``null``): it then covers every score below the others.
    """

    min_points: float | None
    multiplier: float = Field(ge=0)


class GradeMultiplier(StrictModel):
    """The limit multiplier for one master-scale grade."""

    grade: str = Field(min_length=1)
    multiplier: float = Field(ge=0)


def _check_points_bands(bands: Sequence[PointsBand], where: str) -> None:
    if not bands:
        raise ValueError(f"{where}: needs at least one band")
    if any(b.min_points is None for b in bands[:-1]):
        raise ValueError(f"{where}: only the last band may leave min_points empty")
    lows = [b.min_points for b in bands if b.min_points is not None]
    if lows != sorted(lows, reverse=True) or len(set(lows)) != len(lows):
        raise ValueError(
            f"{where}: bands must be listed from the highest min_points down, without repeats; got {lows}"
        )
    mults = [b.multiplier for b in bands]
    if any(hi < lo for hi, lo in zip(mults, mults[1:], strict=False)):
        raise ValueError(
            f"{where}: multipliers must not increase as points fall (more points never lower the limit); got {mults}"
        )


def _check_grade_table(table: Sequence[GradeMultiplier], where: str) -> None:
    if not table:
        raise ValueError(f"{where}: needs at least one grade")
    grades = [g.grade for g in table]
    if len(set(grades)) != len(grades):
        raise ValueError(f"{where}: duplicate grades {sorted({g for g in grades if grades.count(g) > 1})}")
    mults = [g.multiplier for g in table]
    if any(worse > better for better, worse in zip(mults, mults[1:], strict=False)):
        raise ValueError(
            f"{where}: multipliers must not increase from the best grade to the worst (lower PD never lowers the "
            f"limit); got {dict(zip(grades, mults, strict=True))}"
        )


class SeedFloor(StrictModel):
    """A base-line capacity for young firms that pass eligibility (a zone's policy floor)."""

    stages: tuple[str, ...]
    amount: float = Field(ge=0)


class ProductPricing(StrictModel):
    """Product-level pricing terms.

    Attributes:
        interest_subsidy: government interest subsidy (贴息) deducted from the rate, as a fraction.
        extra_spread: product-specific spread added to the rate.
        ceiling_over_lpr: when set, the rate is at most LPR + this (e.g. 0.01 = LPR + 100 bp).
    """

    interest_subsidy: float = Field(default=0.0, ge=0, le=0.2)
    extra_spread: float = Field(default=0.0, ge=-0.2, le=0.2)
    ceiling_over_lpr: float | None = Field(default=None, ge=0, le=0.2)


class RiskCompensation(StrictModel):
    """The government risk-compensation scheme (风险补偿资金池) a product sits in.

    Attributes:
        scheme: the scheme's name.
        loss_share: share of the bank's loss the pool reimburses.
        pure_credit_extra_share: extra share when the loan is pure credit (no collateral, no guarantee).
        max_compensation_per_loan: the most the pool pays on one loan, in yuan (``None``: no cap).
    """

    scheme: str
    loss_share: float = Field(ge=0, le=1)
    pure_credit_extra_share: float = Field(default=0.0, ge=0, le=1)
    max_compensation_per_loan: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _share_at_most_one(self) -> RiskCompensation:
        if self.loss_share + self.pure_credit_extra_share > 1:
            raise ValueError(
                f"loss_share + pure_credit_extra_share must be at most 1; got "
                f"{self.loss_share} + {self.pure_credit_extra_share}"
            )
        return self


class ProductConfig(VersionedConfig):
    """One credit product (``configs/products/<id>.yaml``).

    Optional numbers (``pd_cutoff``, ``refer_pd_above``, ``lgd``, ``points_multipliers``,
    ``risk_multipliers``, ``headroom``) fall back to the policy's defaults when left out.
    """

    kind: Literal["product"] = "product"
    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str
    description: str = ""
    facility: Literal["term", "revolving"] = "term"
    pure_credit: bool = True
    eligibility: tuple[Rule, ...] = ()
    capacity: str
    capacity_text: str = ""
    floor: SeedFloor | None = None
    headroom: str | None = None
    points_multipliers: tuple[PointsBand, ...] | None = None
    risk_multipliers: tuple[GradeMultiplier, ...] | None = None
    pd_cutoff: float | None = Field(default=None, gt=0, le=1)
    refer_pd_above: float | None = Field(default=None, ge=0, le=1)
    cap: float = Field(gt=0)
    rounding_unit: float = Field(gt=0)
    lgd: float | None = Field(default=None, ge=0, le=1)
    pricing: ProductPricing = ProductPricing()
    risk_compensation: RiskCompensation | str = Field(
        description="the scheme inline, or the id of one of the policy's risk_compensation_schemes"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ProductConfig:
        _check_expression(self.capacity, f"product {self.id!r} capacity")
        if self.headroom is not None:
            _check_expression(self.headroom, f"product {self.id!r} headroom")
        ids = [r.id for r in self.eligibility]
        if len(set(ids)) != len(ids):
            raise ValueError(
                f"product {self.id!r}: duplicate rule ids {sorted({i for i in ids if ids.count(i) > 1})}"
            )
        reserved = {"no_veto", "pd_cutoff"} & set(ids)
        if reserved:
            raise ValueError(
                f"product {self.id!r}: rule ids {sorted(reserved)} are reserved for the built-in checks"
            )
        if self.points_multipliers is not None:
            _check_points_bands(self.points_multipliers, f"product {self.id!r} points_multipliers")
        if self.risk_multipliers is not None:
            _check_grade_table(self.risk_multipliers, f"product {self.id!r} risk_multipliers")
        if self.cap % self.rounding_unit:
            raise ValueError(
                f"product {self.id!r}: cap {self.cap} is not a multiple of rounding_unit {self.rounding_unit}"
            )
        if (
            self.pd_cutoff is not None
            and self.refer_pd_above is not None
            and self.refer_pd_above > self.pd_cutoff
        ):
            raise ValueError(
                f"product {self.id!r}: refer_pd_above {self.refer_pd_above} is above pd_cutoff {self.pd_cutoff}"
            )
        return self


class PolicyPricing(StrictModel):
    """Bank-wide pricing inputs.

    Attributes:
        lpr_1y: the one-year Loan Prime Rate (贷款市场报价利率).
        capital_spread: charge for the capital the loan consumes, as a rate.
        cost_spread: operating and funding cost over LPR, as a rate.
        rate_floor: lowest rate offered (``None``: no floor).
        rate_decimals: rates are rounded to this many decimals (4 = one basis point).
    """

    lpr_1y: float = Field(gt=0, le=0.2)
    capital_spread: float = Field(ge=0, le=0.2)
    cost_spread: float = Field(ge=0, le=0.2)
    rate_floor: float | None = Field(default=None, ge=0, le=0.2)
    rate_decimals: int = Field(default=4, ge=2, le=8)


class Exposure(StrictModel):
    """Loss-given-default and exposure-at-default settings.

    Attributes:
        lgd: loss given default for unsecured lending, before risk compensation.
        term_ccf: EAD as a share of the limit for term loans.
        revolving_ccf: EAD as a share of the limit for revolving lines (expected drawing).
    """

    lgd: float = Field(ge=0, le=1)
    term_ccf: float = Field(default=1.0, gt=0, le=1)
    revolving_ccf: float = Field(gt=0, le=1)


class DecisionThresholds(StrictModel):
    """When an offer is approved, referred to a credit officer, or declined.

    Attributes:
        pd_cutoff: default PD cut-off of a product; above it the product is declined (``None``: every
            product sets its own).
        refer_pd_above: default start of the refer band (PD above it and at most the cut-off: refer;
            ``None``: every product sets its own).
        min_limit: a limit below this (after rounding) is not offered.
    """

    pd_cutoff: float | None = Field(default=None, gt=0, le=1)
    refer_pd_above: float | None = Field(default=None, ge=0, le=1)
    min_limit: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _band_below_cutoff(self) -> DecisionThresholds:
        if (
            self.refer_pd_above is not None
            and self.pd_cutoff is not None
            and self.refer_pd_above > self.pd_cutoff
        ):
            raise ValueError(f"refer_pd_above {self.refer_pd_above} is above pd_cutoff {self.pd_cutoff}")
        return self


class PolicyConfig(VersionedConfig):
    """The whole lending policy: global settings plus the embedded product catalogue.

    ``catalogue`` names the product files in priority order. ``products`` holds them embedded; it is filled
    by :func:`load_policy` (a policy validated straight from its YAML has the names but no products, and
    :func:`credit_points.policy.decision.apply_policy` refuses it).
    """

    kind: Literal["policy"] = "policy"
    currency: Literal["CNY"] = "CNY"
    pricing: PolicyPricing
    exposure: Exposure
    decision: DecisionThresholds
    product_choice: Literal["max_limit", "priority"] = "max_limit"
    reason_products: tuple[str, ...] = ()
    derived: tuple[DerivedColumn, ...] = ()
    headroom: str = "existing_unsecured_debt"
    points_multipliers: tuple[PointsBand, ...] | None = None
    risk_multipliers: tuple[GradeMultiplier, ...]
    refer_rules: tuple[Rule, ...] = ()
    risk_compensation_schemes: dict[str, RiskCompensation] = Field(default_factory=dict)
    catalogue: tuple[str, ...] = Field(min_length=1)
    product_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    products: tuple[ProductConfig, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> PolicyConfig:
        if self.points_multipliers is not None:
            _check_points_bands(self.points_multipliers, "points_multipliers")
        _check_grade_table(self.risk_multipliers, "risk_multipliers")
        _check_expression(self.headroom, "headroom")
        if len(set(self.catalogue)) != len(self.catalogue):
            raise ValueError(f"catalogue lists a product twice: {list(self.catalogue)}")
        unknown = sorted(set(self.reason_products) - set(self.catalogue))
        if unknown:
            raise ValueError(f"reason_products {unknown} are not in the catalogue {list(self.catalogue)}")
        unknown = sorted(set(self.product_overrides) - set(self.catalogue))
        if unknown:
            raise ValueError(f"product_overrides for {unknown}, which are not in the catalogue")
        if self.products and tuple(p.id for p in self.products) != self.catalogue:
            raise ValueError(
                f"embedded products {[p.id for p in self.products]} do not match the catalogue {list(self.catalogue)}"
            )
        grades = {g.grade for g in self.risk_multipliers}
        for product in self.products:
            scheme = product.risk_compensation
            if isinstance(scheme, str) and scheme not in self.risk_compensation_schemes:
                raise ValueError(
                    f"product {product.id!r}: risk_compensation {scheme!r} is not one of the policy's "
                    f"risk_compensation_schemes {sorted(self.risk_compensation_schemes)}"
                )
            if product.risk_multipliers is not None and {g.grade for g in product.risk_multipliers} != grades:
                raise ValueError(
                    f"product {product.id!r}: risk_multipliers must list the same grades as the policy"
                )
            for name, own, default in (
                ("pd_cutoff", product.pd_cutoff, self.decision.pd_cutoff),
                ("refer_pd_above", product.refer_pd_above, self.decision.refer_pd_above),
                ("points_multipliers", product.points_multipliers, self.points_multipliers),
            ):
                if own is None and default is None:
                    where = "decision." + name if name != "points_multipliers" else name
                    raise ValueError(f"product {product.id!r} sets no {name} and the policy has no {where}")
            cutoff = self.product_pd_cutoff(product)
            if self.product_refer_pd_above(product) > cutoff:
                raise ValueError(f"product {product.id!r}: refer band starts above its PD cut-off {cutoff}")
        ids = [r.id for r in self.refer_rules] + [d.id for d in self.derived]
        if len(set(ids)) != len(ids):
            raise ValueError(f"refer rule / derived column ids repeat: {ids}")
        return self

    # -- resolved settings (product value, else the policy default) --------------------------------
    @property
    def grades(self) -> tuple[str, ...]:
        """Master-scale grade labels, best first, as the risk-multiplier table lists them."""
        return tuple(g.grade for g in self.risk_multipliers)

    def product(self, product_id: str) -> ProductConfig:
        """The embedded product ``product_id``."""
        for product in self.products:
            if product.id == product_id:
                return product
        raise ConfigError(
            f"no product {product_id!r} in the policy; products: {[p.id for p in self.products]}"
        )

    def product_pd_cutoff(self, product: ProductConfig) -> float:
        return _resolved(product.pd_cutoff, self.decision.pd_cutoff, product, "pd_cutoff")

    def product_refer_pd_above(self, product: ProductConfig) -> float:
        return _resolved(product.refer_pd_above, self.decision.refer_pd_above, product, "refer_pd_above")

    def product_points_multipliers(self, product: ProductConfig) -> tuple[PointsBand, ...]:
        return _resolved(product.points_multipliers, self.points_multipliers, product, "points_multipliers")

    def product_risk_multipliers(self, product: ProductConfig) -> tuple[GradeMultiplier, ...]:
        return product.risk_multipliers if product.risk_multipliers is not None else self.risk_multipliers

    def product_lgd(self, product: ProductConfig) -> float:
        return product.lgd if product.lgd is not None else self.exposure.lgd

    def product_ccf(self, product: ProductConfig) -> float:
        return self.exposure.revolving_ccf if product.facility == "revolving" else self.exposure.term_ccf

    def product_scheme(self, product: ProductConfig) -> RiskCompensation:
        """The risk-compensation scheme a product sits in (inline, or named in the policy)."""
        scheme = product.risk_compensation
        return self.risk_compensation_schemes[scheme] if isinstance(scheme, str) else scheme

    def product_headroom(self, product: ProductConfig) -> str:
        return product.headroom if product.headroom is not None else self.headroom

    def rule_ids(self) -> list[str]:
        """Every rule id a decision can name: product rules, refer rules and the built-in checks."""
        ids = {"no_veto", "pd_cutoff"} | {r.id for r in self.refer_rules}
        for product in self.products:
            ids |= {r.id for r in product.eligibility}
        return sorted(ids)

    def expressions(self) -> list[tuple[str, str]]:
        """Every expression in the policy as ``(location, source)``."""
        found = [(f"derived.{d.id}", d.expression) for d in self.derived]
        found += [(f"refer_rules.{r.id}", r.expression) for r in self.refer_rules]
        found.append(("headroom", self.headroom))
        for p in self.products:
            found += [(f"products.{p.id}.eligibility.{r.id}", r.expression) for r in p.eligibility]
            found.append((f"products.{p.id}.capacity", p.capacity))
            if p.headroom is not None:
                found.append((f"products.{p.id}.headroom", p.headroom))
        return found


T = TypeVar("T")


def _resolved(own: T | None, default: T | None, product: ProductConfig, name: str) -> T:
    """A product's own setting, else the policy's (validation makes sure one of them is set)."""
    if own is not None:
        return own
    if default is None:
        raise ConfigError(f"product {product.id!r} sets no {name} and the policy has none")
    return default


#: settings a product may set for itself instead of the policy's default: (policy key, product key)
PRODUCT_DEFAULTS = (
    ("decision.pd_cutoff", "pd_cutoff"),
    ("decision.refer_pd_above", "refer_pd_above"),
    ("points_multipliers", "points_multipliers"),
    ("risk_multipliers", "risk_multipliers"),
    ("exposure.lgd", "lgd"),
    ("headroom", "headroom"),
)


def _check_defaults_used(
    data: Mapping[str, Any],
    products: Sequence[Mapping[str, Any]],
    path: str | Path,
    product_files: Sequence[str],
) -> None:
    """Refuse a policy default its file sets that no product uses (every product sets its own), naming the
    policy key and the product files."""
    for policy_key, product_key in PRODUCT_DEFAULTS:
        value: Any = data
        for part in policy_key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None and products and all(p.get(product_key) is not None for p in products):
            raise ConfigError(
                f"{policy_key} is never used: every product of the catalogue sets its own {product_key} "
                f"({', '.join(product_files)}); remove it here, or from the products that should follow it",
                path=str(path),
                location=policy_key,
            )


def _known_name(name: str, known: set[str]) -> bool:
    return name in known or any(re.match(pattern, name) for pattern in UPSTREAM_PATTERNS)


def check_policy_names(
    policy: PolicyConfig, record_fields: Iterable[str], *, path: str | None = None
) -> None:
    """Raise :class:`ConfigError` when an expression names a column nobody produces.

    Known names are the applicant record's fields, the points and PD columns, the engine's own helper
    columns and the policy's derived columns (each derived column may use the ones before it).
    """
    known = set(record_fields) | UPSTREAM_COLUMNS | ENGINE_COLUMNS
    for derived in policy.derived:
        unknown = _unknown_names(derived.expression, known)
        if unknown:
            raise ConfigError(
                f"expression uses unknown field(s) {unknown}", path=path, location=f"derived.{derived.id}"
            )
        known.add(derived.id)
    check_expression_names(policy.expressions(), known, path=path)


def _unknown_names(source: str, known: set[str]) -> list[str]:
    return sorted(n for n in compile_expression(source).names if not _known_name(n, known))


def check_expression_names(
    expressions: Iterable[tuple[str, str]], known: set[str], *, path: str | None = None, where: str = ""
) -> None:
    """Raise :class:`ConfigError` at the first ``(location, source)`` naming a column outside ``known``."""
    for location, source in expressions:
        unknown = _unknown_names(source, known)
        if unknown:
            raise ConfigError(
                f"expression {source!r} uses unknown field(s) {unknown}{where}", path=path, location=location
            )


def _catalogue_field_names() -> list[str]:
    """The applicant record's field names, read from the shipped catalogue."""
    catalogue_fields = read_yaml(CONFIG_DIR / "fields.yaml").get("fields") or []
    return [f["name"] for f in catalogue_fields if isinstance(f, dict) and "name" in f]


def load_policy(
    name_or_path: str | Path = "default",
    overlays: Sequence[str | Path] = (),
    *,
    products_dir: str | Path | None = None,
    check_names: bool = True,
    record_fields: Iterable[str] | None = None,
) -> PolicyConfig:
    """Load a policy, resolve its catalogue and embed every product.

    Args:
        name_or_path: a profile name (``configs/policy/<name>.yaml``) or a file path.
        overlays: files merged over the policy file in order (a partner bank's changes). An overlay may
            change a product through ``product_overrides: {<product id>: {...}}``.
        products_dir: where product files live; default ``../products`` beside the policy file when that
            folder exists, else ``configs/products``.
        check_names: check every expression's names against the record's fields and upstream columns.
        record_fields: the applicant record's field names; default the names in ``configs/fields.yaml``.

    Raises:
        ConfigError: naming the file and the key of the first problem.

    Examples:
        >>> policy = load_policy("default")
        >>> [p.id for p in policy.products]
        ['keji_dai', 'shanxin_dai', 'jifen_dai', 'renewal_without_principal']
        >>> policy.grades[-1]
        'D'
    """
    path = resolve_config_path(name_or_path, "policy")
    data = read_yaml(path)
    for overlay in overlays:
        data = deep_merge(data, read_yaml(overlay))
    if data.get("kind") != "policy":
        raise ConfigError(
            f"expected kind 'policy'; got {data.get('kind')!r}", path=str(path), location="kind"
        )
    if data.get("products"):
        raise ConfigError(
            "products are embedded by load_policy; list product ids under 'catalogue'",
            path=str(path),
            location="products",
        )
    if products_dir is None:
        sibling = path.resolve().parent.parent / "products"
        products_dir = sibling if sibling.is_dir() else CONFIG_DIR / "products"
    catalogue = data.get("catalogue") or []
    if not isinstance(catalogue, list) or not all(isinstance(c, str) for c in catalogue):
        raise ConfigError("catalogue must be a list of product ids", path=str(path), location="catalogue")
    overrides = data.get("product_overrides") or {}
    products = []
    for product_id in catalogue:
        product_path = Path(products_dir) / f"{product_id}.yaml"
        product_data = read_yaml(product_path)
        if product_id in overrides:
            product_data = deep_merge(product_data, overrides[product_id])
        product = validate_mapping(product_data, ProductConfig, path=str(product_path))
        if product.id != product_id:
            raise ConfigError(
                f"file declares id {product.id!r}, catalogue says {product_id!r}",
                path=str(product_path),
                location="id",
            )
        products.append(product.model_dump(mode="python"))
    _check_defaults_used(data, products, path, [str(Path(products_dir) / f"{p}.yaml") for p in catalogue])
    data["products"] = products
    policy = validate_mapping(data, PolicyConfig, path=str(path))
    if check_names:
        check_policy_names(
            policy, _catalogue_field_names() if record_fields is None else record_fields, path=str(path)
        )
    return policy


def load_proposed_policy(path: str | Path, in_force: PolicyConfig) -> PolicyConfig:
    """A policy change to weigh against ``in_force``: a whole policy file (``kind: policy``, loaded by
    :func:`load_policy`), or an overlay of the policy in force — the keys it sets replace the in-force
    policy's, ``product_overrides: {<product id>: {...}}`` change a product. Checked like any policy
    (names, defaults no product uses).

    Raises:
        ConfigError: naming the file and the key of the first problem.
    """
    data = read_yaml(path)
    if data.get("kind") == "policy":
        return load_policy(path)
    if data.get("kind") is not None:
        raise ConfigError(
            f"expected a policy or an overlay of one; got kind {data.get('kind')!r}",
            path=str(path),
            location="kind",
        )
    if "catalogue" in data or "products" in data:
        raise ConfigError(
            "an overlay changes settings and products, not the catalogue; give a whole policy file to change it",
            path=str(path),
            location="catalogue" if "catalogue" in data else "products",
        )
    base = in_force.model_dump(mode="python")
    products = base.pop("products")
    overrides = data.get("product_overrides") or {}
    unknown = sorted(set(overrides) - {p["id"] for p in products})
    if unknown:
        raise ConfigError(
            f"product_overrides for {unknown}, which the policy in force does not offer ({[p['id'] for p in products]})",
            path=str(path),
            location="product_overrides",
        )
    merged = deep_merge(base, {k: v for k, v in data.items() if k != "product_overrides"})
    merged["product_overrides"] = deep_merge(base.get("product_overrides") or {}, overrides)
    merged["products"] = [deep_merge(p, overrides.get(p["id"], {})) for p in products]
    _check_defaults_used(data, merged["products"], path, [f"product {p['id']}" for p in products])
    policy = validate_mapping(merged, PolicyConfig, path=str(path))
    check_policy_names(policy, _catalogue_field_names(), path=str(path))
    return policy


def check_policy_file(path: str | Path) -> None:
    """The checks loading a policy runs: products embedded, every expression's names known.

    Raises:
        ConfigError: naming the file, the key and the unknown name.
    """
    load_policy(path)


def check_product_file(path: str | Path) -> None:
    """A product file checked as it is used: within each policy (``../policy/*.yaml``) that lists it.

    Its expressions are compiled against what that policy knows (the record's fields, the upstream
    columns, the policy's derived columns) by the same check loading runs; a product no policy lists is
    checked against the record's fields and the upstream columns alone.

    Raises:
        ConfigError: naming the product file, the rule, the unknown name and the policy it was checked in.
    """
    path = Path(path)
    product_id = read_yaml(path).get("id")
    prefix = f"products.{product_id}."
    fields = set(_catalogue_field_names()) | UPSTREAM_COLUMNS | ENGINE_COLUMNS
    policies = path.resolve().parent.parent / "policy"
    checked = False
    for policy_path in sorted(policies.glob("*.y*ml")) if policies.is_dir() else []:
        if product_id not in (read_yaml(policy_path).get("catalogue") or []):
            continue
        checked = True
        policy = load_policy(policy_path, products_dir=path.parent, check_names=False)
        own = [(loc.removeprefix(prefix), src) for loc, src in policy.expressions() if loc.startswith(prefix)]
        known = fields | {d.id for d in policy.derived}
        check_expression_names(
            own, known, path=str(path), where=f" (checked within policy {policy_path.name})"
        )
    if not checked:
        product = validate_mapping(read_yaml(path), ProductConfig, path=str(path))
        own = [(f"eligibility.{r.id}", r.expression) for r in product.eligibility]
        check_expression_names([*own, ("capacity", product.capacity)], fields, path=str(path))
