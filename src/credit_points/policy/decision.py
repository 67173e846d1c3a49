"""The policy engine: eligibility, capacity, the limit waterfall, pricing, expected loss and the decision.

Everything is computed on whole columns: one pass per product (a handful) over arrays of all rows, never a
loop over applicants. The input is one row per applicant: the applicant record, the points columns
(``stage``, ``points_total``, ``veto`` ...) and the PD columns (``prob_default``, ``grade``).

Limit waterfall for each product (each step is a column of :func:`apply_policy`)::

    limit_capacity       = capacity formula (floored for seed/sapling firms), 0 when not eligible
    limit_after_points   = limit_capacity     x points multiplier (band of points_total)
    limit_after_risk     = limit_after_points x risk multiplier (PD grade)
    limit_after_headroom = max(limit_after_risk - existing unsecured debt, 0)
    limit_after_cap      = min(limit_after_headroom, product cap)
    limit                = rounded down to the product's unit; 0 when below the policy's minimum offer
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from credit_points.exceptions import ConfigError, DataValidationError
from credit_points.expressions import compile_expression
from credit_points.policy.config import PolicyConfig, ProductConfig

#: Waterfall steps that can bind, in waterfall order (``capacity`` when none of the others reduced it).
BINDING_STEPS: tuple[str, ...] = (
    "capacity",
    "points_multiplier",
    "risk_multiplier",
    "headroom",
    "cap",
    "min_limit",
)
DECISIONS: tuple[str, ...] = ("decline", "refer", "approve")
_DECLINE, _REFER, _APPROVE = 0, 1, 2
#: Guard so that a limit meant to be an exact multiple (e.g. 29,999.999999 after float maths) is not cut.
_ROUNDING_EPS = 1e-9

REQUIRED_COLUMNS: tuple[str, ...] = ("stage", "points_total", "veto", "prob_default", "grade")


class _PolicyColumns(dict):  # type: ignore[type-arg]
    """Name -> numpy column, read lazily from the input, plus the engine's and the policy's derived columns.

    The input is a frame or any mapping of name -> column (a ``ChainMap`` of frames and dicts of arrays).
    """

    def __init__(self, frame: pd.DataFrame | Mapping[str, Any]) -> None:
        super().__init__()
        self._frame = frame
        self.results: dict[
            str, np.ndarray
        ] = {}  # expression source -> value (the same rule in many products)

    def __missing__(self, key: str) -> np.ndarray:
        if key not in self._frame:
            raise KeyError(key)
        value = _as_numpy(self._frame[key])
        self[key] = value
        return value

    def has(self, key: str) -> bool:
        """Whether the input (not the derived columns) holds ``key``."""
        return key in self._frame


def _as_numpy(series: Any) -> np.ndarray:
    if not isinstance(series, pd.Series):
        return np.asarray(series)
    dtype = series.dtype
    if isinstance(dtype, pd.BooleanDtype):
        return series.to_numpy(dtype=bool, na_value=False)
    if pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    return series.to_numpy()


def _evaluate(source: str, env: _PolicyColumns, n: int, where: str) -> np.ndarray:
    memo = env.results
    if source not in memo:
        memo[source] = _evaluate_once(source, env, n, where)
    return memo[source]


def _evaluate_once(source: str, env: _PolicyColumns, n: int, where: str) -> np.ndarray:
    try:
        out = compile_expression(source).evaluate(env)
    except KeyError as exc:  # pragma: no cover - Expression turns missing names into ConfigError
        raise DataValidationError("column missing from the input", field=str(exc)) from None
    except ConfigError as exc:
        raise DataValidationError(f"{where}: {exc}") from None
    return np.broadcast_to(np.asarray(out), (n,))


def _as_float(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype="float64")


def _as_bool(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        return np.nan_to_num(arr, nan=0.0) != 0
    if arr.dtype == object:
        return np.asarray(pd.Series(arr).fillna(False).astype(bool))
    return arr.astype(bool)


def policy_input_columns(policy: PolicyConfig) -> set[str]:
    """Columns :func:`prepare_columns` and the refer rules read (so callers can pass a narrow frame)."""
    names = set(REQUIRED_COLUMNS) | {"founded_date", "as_of_date", "firm_age_years"}
    sources = [d.expression for d in policy.derived] + [r.expression for r in policy.refer_rules]
    for source in sources:
        names |= compile_expression(source).names
    return names | {d.id for d in policy.derived}


def prepare_columns(
    frame: pd.DataFrame | Mapping[str, Any], policy: PolicyConfig, n: int | None = None
) -> _PolicyColumns:
    """The columns policy expressions see: the input's, ``firm_age_years`` and the policy's derived columns.

    Args:
        frame: a frame, or a mapping of name -> column (numpy arrays, Series), one value per row.
        policy: the policy.
        n: the number of rows (needed when ``frame`` is a mapping; a frame's length otherwise).

    Raises:
        DataValidationError: a required column is missing, or ``prob_default`` / ``grade`` is invalid.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame]
    if missing:
        raise DataValidationError(f"columns missing from the policy input: {missing}", field=missing[0])
    n = len(frame) if n is None else n
    env = _PolicyColumns(frame)
    prob_default = _as_float(env["prob_default"])
    bad = ~np.isnan(prob_default) & ((prob_default < 0) | (prob_default > 1))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            "probability of default must be in [0, 1]", field="prob_default", value=float(prob_default[first])
        )
    env["prob_default"] = prob_default
    env["points_total"] = _as_float(env["points_total"])
    env["veto"] = _as_bool(env["veto"])
    if "firm_age_years" not in frame and "founded_date" in frame and "as_of_date" in frame:
        as_of = np.asarray(_as_numpy(frame["as_of_date"]), dtype="datetime64[ns]")
        founded = np.asarray(_as_numpy(frame["founded_date"]), dtype="datetime64[ns]")
        env["firm_age_years"] = (as_of - founded) / np.timedelta64(1, "D") / 365.25
    for derived in policy.derived:
        if derived.id not in frame:
            env[derived.id] = _evaluate(derived.expression, env, n, f"derived column {derived.id!r}")
    return env


def grade_index(grades: np.ndarray, policy: PolicyConfig, prob_default: np.ndarray) -> np.ndarray:
    """Position of each row's grade in the policy's master scale (-1 where PD is missing).

    Raises:
        DataValidationError: a grade the scale does not know, or a missing grade beside a known PD.
    """
    factor, uniques = pd.factorize(np.asarray(grades, dtype=object), use_na_sentinel=True)
    position = {g: k for k, g in enumerate(policy.grades)}
    lookup = np.array([position.get(str(u), -2) for u in uniques] + [-1], dtype=np.int64)
    codes = lookup[np.where(factor < 0, len(uniques), factor)]
    if (codes == -2).any():
        value = uniques[int(np.flatnonzero(lookup == -2)[0])]
        raise DataValidationError(
            f"grade not on the policy's master scale {list(policy.grades)}", field="grade", value=value
        )
    missing = (codes < 0) & ~np.isnan(prob_default)
    if missing.any():
        raise DataValidationError("grade missing where prob_default is known", field="grade", value=None)
    return codes


def _points_multiplier(points: np.ndarray, product: ProductConfig, policy: PolicyConfig) -> np.ndarray:
    bands = policy.product_points_multipliers(product)
    conditions = [points >= b.min_points for b in bands if b.min_points is not None]
    choices = [b.multiplier for b in bands if b.min_points is not None]
    default = bands[-1].multiplier if bands[-1].min_points is None else 0.0
    return np.select(conditions, choices, default=default).astype("float64")


_STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


def str_column(
    positions: np.ndarray, labels: list[str] | tuple[str, ...]
) -> pd.api.extensions.ExtensionArray:
    """A pandas ``str`` array of ``labels[positions]``, built by Arrow (far faster than from Python objects).

    Examples:
        >>> str_column(np.array([1, 0, 1]), ["a", "b"]).tolist()
        ['b', 'a', 'b']
    """
    taken = pa.array(list(labels), type=pa.large_string()).take(
        pa.array(np.asarray(positions, dtype=np.int64))
    )
    return pd.arrays.ArrowStringArray(taken, dtype=_STR_DTYPE)


def _join_ids(fail: np.ndarray, ids: list[str]) -> tuple[np.ndarray, list[str]]:
    """``;``-joined ids of the failing columns of a boolean (n, k) matrix: (positions, distinct texts)."""
    n = fail.shape[0]
    if not ids:
        return np.zeros(n, dtype=np.int64), [""]
    weights = np.left_shift(np.int64(1), np.arange(len(ids), dtype=np.int64))
    mask = fail.astype(np.int64) @ weights
    uniq, inverse = np.unique(mask, return_inverse=True)
    texts = [";".join(i for k, i in enumerate(ids) if (int(u) >> k) & 1) for u in uniq]
    return inverse.reshape(-1), texts


@dataclass(frozen=True)
class ProductOffers:
    """Every product's offer for every row: arrays of shape (n, products) (strings: object arrays)."""

    product_ids: tuple[str, ...]
    eligible: np.ndarray
    failed_rules: tuple[tuple[np.ndarray, list[str]], ...]
    capacity: np.ndarray
    points_multiplier: np.ndarray
    risk_multiplier: np.ndarray
    limit_capacity: np.ndarray
    limit_after_points: np.ndarray
    limit_after_risk: np.ndarray
    limit_after_headroom: np.ndarray
    limit_after_cap: np.ndarray
    limit: np.ndarray
    binding: np.ndarray
    decision: np.ndarray
    rate: np.ndarray
    ead: np.ndarray
    lgd: np.ndarray
    expected_loss: np.ndarray
    expected_loss_net: np.ndarray
    refer_hits: np.ndarray
    veto: np.ndarray
    pd_failed: np.ndarray


_HASHES: dict[int, tuple[PolicyConfig, str]] = {}


def policy_hash(policy: PolicyConfig) -> str:
    """``policy.content_hash``, computed once per policy object (hashing the whole catalogue costs ~1 ms)."""
    cached = _HASHES.get(id(policy))
    if cached is not None and cached[0] is policy:
        return cached[1]
    if len(_HASHES) >= 32:
        _HASHES.clear()
    value = policy.content_hash
    _HASHES[id(policy)] = (policy, value)
    return value


def _require_products(policy: PolicyConfig) -> None:
    if not policy.products:
        raise ConfigError(
            "the policy has no embedded products; load it with credit_points.policy.config.load_policy"
        )


def refer_rule_hits(env: _PolicyColumns, policy: PolicyConfig, n: int) -> np.ndarray:
    """Boolean (n, refer rules): which of the policy's refer rules each row triggers."""
    hits = np.zeros((n, len(policy.refer_rules)), dtype=bool)
    for k, rule in enumerate(policy.refer_rules):
        hits[:, k] = _as_bool(_evaluate(rule.expression, env, n, f"refer rule {rule.id!r}"))
    return hits


def evaluate_products(
    frame: pd.DataFrame | Mapping[str, Any], policy: PolicyConfig, n: int | None = None
) -> ProductOffers:
    """Run every product's eligibility, waterfall, pricing and expected loss on every row.

    Args:
        frame: the policy input, a frame or a mapping of name -> column (see :func:`prepare_columns`).
        policy: the policy (products embedded).
        n: the number of rows when ``frame`` is a mapping.

    Raises:
        ConfigError: the policy has no embedded products.
        DataValidationError: a column is missing or holds an invalid value (named).
    """
    _require_products(policy)
    n = len(frame) if n is None else n
    n_products = len(policy.products)
    env = prepare_columns(frame, policy, n)
    prob_default = env["prob_default"]
    points = env["points_total"]
    veto = env["veto"]
    stage = np.asarray(env["stage"], dtype=object)
    grade_pos = grade_index(env["grade"], policy, prob_default)
    refer_hits = refer_rule_hits(env, policy, n)
    any_refer = refer_hits.any(axis=1)

    shape = (n, n_products)
    out: dict[str, Any] = {
        name: np.zeros(shape, dtype="float64")
        for name in (
            "capacity", "points_multiplier", "risk_multiplier", "limit_capacity", "limit_after_points",
            "limit_after_risk", "limit_after_headroom", "limit_after_cap", "limit", "rate", "ead", "lgd",
            "expected_loss", "expected_loss_net",
        )
    }  # fmt: skip
    out["eligible"] = np.zeros(shape, dtype=bool)
    out["pd_failed"] = np.zeros(shape, dtype=bool)
    failed_rules: list[tuple[np.ndarray, list[str]]] = []
    out["binding"] = np.zeros(shape, dtype="int64")
    out["decision"] = np.zeros(shape, dtype="int64")
    pricing = policy.pricing
    min_limit = policy.decision.min_limit

    for j, product in enumerate(policy.products):
        where = f"product {product.id!r}"
        rules = product.eligibility
        fail = np.zeros((n, len(rules) + 2), dtype=bool)
        fail[:, 0] = veto
        for k, rule in enumerate(rules, start=1):
            fail[:, k] = ~_as_bool(_evaluate(rule.expression, env, n, f"{where} rule {rule.id!r}"))
        cutoff = policy.product_pd_cutoff(product)
        with np.errstate(invalid="ignore"):
            fail[:, -1] = ~(prob_default <= cutoff)
        out["pd_failed"][:, j] = fail[:, -1]
        eligible = ~fail.any(axis=1)
        out["eligible"][:, j] = eligible
        failed_rules.append(_join_ids(fail, ["no_veto", *[r.id for r in rules], "pd_cutoff"]))

        capacity = np.nan_to_num(_as_float(_evaluate(product.capacity, env, n, f"{where} capacity")), nan=0.0)
        capacity = np.maximum(capacity, 0.0)
        if product.floor is not None:
            young = np.isin(stage, np.asarray(product.floor.stages, dtype=object))
            capacity = np.where(young, np.maximum(capacity, product.floor.amount), capacity)
        points_mult = _points_multiplier(points, product, policy)
        risk_table = np.array(
            [g.multiplier for g in policy.product_risk_multipliers(product)], dtype="float64"
        )
        risk_mult = np.where(grade_pos >= 0, risk_table[np.clip(grade_pos, 0, None)], 0.0)
        headroom = _evaluate(policy.product_headroom(product), env, n, f"{where} headroom")
        headroom = np.maximum(np.nan_to_num(_as_float(headroom), nan=0.0), 0.0)

        limit_capacity = np.where(eligible, capacity, 0.0)
        after_points = limit_capacity * points_mult
        after_risk = after_points * risk_mult
        after_headroom = np.maximum(after_risk - headroom, 0.0)
        after_cap = np.minimum(after_headroom, product.cap)
        unit = product.rounding_unit
        rounded = np.floor(after_cap / unit + _ROUNDING_EPS) * unit
        limit = np.where(rounded >= min_limit, rounded, 0.0)

        reductions = np.stack(
            [
                np.zeros(n),
                limit_capacity - after_points,
                after_points - after_risk,
                after_risk - after_headroom,
                after_headroom - after_cap,
                rounded - limit,
            ],
            axis=1,
        )
        binding = binding_step(reductions)

        lgd = policy.product_lgd(product)
        ead = limit * policy.product_ccf(product)
        loss_given_default = lgd * ead
        scheme = policy.product_scheme(product)
        share = scheme.loss_share + (scheme.pure_credit_extra_share if product.pure_credit else 0.0)
        compensation = share * loss_given_default
        if scheme.max_compensation_per_loan is not None:
            compensation = np.minimum(compensation, scheme.max_compensation_per_loan)
        pd_or_zero = np.nan_to_num(prob_default, nan=0.0)
        expected_loss = pd_or_zero * loss_given_default
        expected_loss_net = pd_or_zero * (loss_given_default - compensation)

        offered = limit > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            el_rate = np.where(offered, expected_loss_net / np.where(offered, ead, 1.0), np.nan)
        rate = (
            pricing.lpr_1y + el_rate + pricing.capital_spread + pricing.cost_spread
            + product.pricing.extra_spread - product.pricing.interest_subsidy
        )  # fmt: skip
        if product.pricing.ceiling_over_lpr is not None:
            rate = np.minimum(rate, pricing.lpr_1y + product.pricing.ceiling_over_lpr)
        if pricing.rate_floor is not None:
            rate = np.maximum(rate, pricing.rate_floor)
        rate = np.asarray(np.round(np.maximum(rate, 0.0), pricing.rate_decimals), dtype="float64")

        with np.errstate(invalid="ignore"):
            in_band = prob_default > policy.product_refer_pd_above(product)
        decision = np.where(~offered, _DECLINE, np.where(in_band | any_refer, _REFER, _APPROVE))

        for name, value in (
            ("capacity", capacity), ("points_multiplier", points_mult), ("risk_multiplier", risk_mult),
            ("limit_capacity", limit_capacity), ("limit_after_points", after_points),
            ("limit_after_risk", after_risk), ("limit_after_headroom", after_headroom),
            ("limit_after_cap", after_cap), ("limit", limit), ("binding", binding), ("decision", decision),
            ("rate", rate), ("ead", ead), ("lgd", np.full(n, lgd)), ("expected_loss", expected_loss),
            ("expected_loss_net", expected_loss_net),
        ):  # fmt: skip
            out[name][:, j] = value

    return ProductOffers(
        product_ids=tuple(p.id for p in policy.products),
        failed_rules=tuple(failed_rules),
        refer_hits=refer_hits,
        veto=veto,
        **out,
    )


def binding_step(reductions: np.ndarray) -> np.ndarray:
    """The waterfall step that set each limit: position in ``BINDING_STEPS`` per row.

    ``reductions`` holds, per row, what each step took off the running limit (rows × steps, in waterfall
    order: capacity, points multiplier, risk multiplier, headroom, cap, minimum offer). The binding step
    is the last step before rounding that lowered the running limit — a step that left it as it was or
    raised it (a cap above the limit, unused headroom, a multiplier above 1) cannot bind — and the
    capacity where none did. An offer zeroed because it fell below the minimum is bound by the minimum.

    Examples:
        >>> reductions = np.array([[0, 4e6, 0, 0, 1e6, 0], [0, -2e6, 0, 0, 0, 0], [0, 1e6, 0, 0, 0, 0],
        ...                        [0, 0, 0, 0, 0, 0], [0, 0, 0, 5e5, 0, 3e4]])
        >>> [BINDING_STEPS[k] for k in binding_step(reductions)]
        ['cap', 'capacity', 'points_multiplier', 'capacity', 'min_limit']
    """
    lowered = reductions[:, 1:5] > 0
    last = lowered.shape[1] - np.argmax(lowered[:, ::-1], axis=1)
    binding = np.where(lowered.any(axis=1), last, 0)
    return np.where(reductions[:, 5] > 0, 5, binding)


def _choose(offers: ProductOffers, policy: PolicyConfig) -> tuple[np.ndarray, np.ndarray]:
    """Index of the recommended product per row and whether any product is offered."""
    offered = offers.limit > 0
    if policy.product_choice == "priority":
        choice = np.argmax(offered, axis=1)
    else:
        choice = np.argmax(np.where(offered, offers.limit, -1.0), axis=1)
    return np.asarray(choice), np.asarray(offered.any(axis=1))


#: Every ``binding_constraint`` value: why nothing was offered, or the waterfall step that bound.
BINDING_LABELS: tuple[str, ...] = ("veto", "pd_cutoff", "eligibility", *BINDING_STEPS)
_STEP_OFFSET = 3


def _decline_binding(offers: ProductOffers) -> np.ndarray:
    """Why a row with no offer was declined (position in BINDING_LABELS): veto, PD cut-off, eligibility, or
    the step that zeroed the limit of the eligible product that came closest."""
    any_eligible = offers.eligible.any(axis=1)
    best = np.argmax(np.where(offers.eligible, offers.limit_after_cap, -1.0), axis=1)
    rows = np.arange(len(best))
    step = offers.binding[rows, best] + _STEP_OFFSET
    return np.where(
        offers.veto, 0, np.where(offers.pd_failed.all(axis=1), 1, np.where(any_eligible, step, 2))
    )


def apply_policy(frame: pd.DataFrame, policy: PolicyConfig) -> pd.DataFrame:
    """Eligibility per product, the recommended product, its limit waterfall, price, expected loss, decision.

    Args:
        frame: one row per applicant: the applicant record plus the points columns (``stage``,
            ``points_total``, ``veto``, ``rank_zone`` ...) and the PD columns (``prob_default``, ``grade``).
        policy: a policy from :func:`~credit_points.policy.config.load_policy` (products embedded).

    Returns:
        A frame with the same index: per product ``eligible_<product>`` (bool) and ``failed_rules_<product>``
        (``;``-joined rule ids, built-in ``no_veto`` and ``pd_cutoff`` included); ``product`` ("" when none
        is offered), ``capacity``, ``points_multiplier``, ``risk_multiplier``, ``limit_capacity``,
        ``limit_after_points``, ``limit_after_risk``, ``limit_after_headroom``, ``limit_after_cap``,
        ``limit``, ``binding_constraint``, ``rate`` (NaN when nothing is offered), ``ead``, ``lgd``,
        ``expected_loss``, ``expected_loss_net``, ``decision``, ``policy_version``, ``policy_hash``.
        Waterfall columns are those of the recommended product, and 0 when none is offered.

    Raises:
        ConfigError: the policy has no embedded products.
        DataValidationError: a column is missing or holds an invalid value (named).

    Examples:
        >>> from credit_points.policy.config import load_policy
        >>> policy = load_policy("default")
        >>> firm = pd.DataFrame({
        ...     "revenue": [10e6], "tax_paid": [0.5e6], "rd_expense": [0.6e6], "total_liabilities": [2e6],
        ...     "total_assets": [8e6], "employees": [80.0], "tech_qualification_tier": [3.0], "srdi": ["none"],
        ...     "orders_backlog": [0.0], "gov_subsidies": [0.0], "wages_paid": [3e6], "high_level_talent": [0.0],
        ...     "existing_bank_debt": [0.0], "existing_unsecured_debt": [0.0], "max_overdue_days_24m": [0.0],
        ...     "firm_age_years": [5.0], "stage": ["growth"], "points_total": [104.0], "veto": [False],
        ...     "rank_zone": [900], "prob_default": [0.012], "grade": ["5"]})
        >>> out = apply_policy(firm, policy)
        >>> row = out.iloc[0]
        >>> row["product"], float(row["limit_capacity"]), float(row["limit"]), row["binding_constraint"]
        ('keji_dai', 3900000.0, 3310000.0, 'risk_multiplier')
        >>> row["decision"], float(row["rate"])
        ('approve', 0.04)
    """
    return pd.DataFrame(policy_columns(frame, policy, len(frame)), index=frame.index)


def policy_columns(frame: pd.DataFrame | Mapping[str, Any], policy: PolicyConfig, n: int) -> dict[str, Any]:
    """The columns of :func:`apply_policy` as a dict of arrays, from a frame or a mapping of columns.

    The engine's path: no frame is built here, the caller builds its output once.
    """
    return policy_decision(frame, policy, n)[0]


def policy_decision(
    frame: pd.DataFrame | Mapping[str, Any], policy: PolicyConfig, n: int
) -> tuple[dict[str, Any], ProductOffers]:
    """:func:`policy_columns` plus the per-product offers they were picked from (refer-rule hits included)."""
    offers = evaluate_products(frame, policy, n)
    rows = np.arange(n)
    choice, any_offer = _choose(offers, policy)

    def pick(matrix: np.ndarray, empty: float = 0.0) -> np.ndarray:
        return np.where(any_offer, matrix[rows, choice], empty)

    result: dict[str, Any] = {}
    for j, product_id in enumerate(offers.product_ids):
        result[f"eligible_{product_id}"] = offers.eligible[:, j]
        result[f"failed_rules_{product_id}"] = str_column(*offers.failed_rules[j])
    n_products = len(offers.product_ids)
    result["product"] = str_column(np.where(any_offer, choice, n_products), [*offers.product_ids, ""])
    for name in (
        "capacity", "points_multiplier", "risk_multiplier", "limit_capacity", "limit_after_points",
        "limit_after_risk", "limit_after_headroom", "limit_after_cap", "limit",
    ):  # fmt: skip
        result[name] = pick(getattr(offers, name))
    binding = np.where(any_offer, offers.binding[rows, choice] + _STEP_OFFSET, _decline_binding(offers))
    result["binding_constraint"] = str_column(binding, BINDING_LABELS)
    result["rate"] = pick(offers.rate, np.nan)
    result["ead"] = pick(offers.ead)
    result["lgd"] = pick(offers.lgd, np.nan)
    result["expected_loss"] = pick(offers.expected_loss)
    result["expected_loss_net"] = pick(offers.expected_loss_net)
    result["decision"] = str_column(np.where(any_offer, offers.decision[rows, choice], _DECLINE), DECISIONS)
    zeros = np.zeros(n, dtype=np.int64)
    result["policy_version"] = str_column(zeros, [policy.version])
    result["policy_hash"] = str_column(zeros, [policy_hash(policy)])
    return result, offers


def product_offers(frame: pd.DataFrame, policy: PolicyConfig) -> pd.DataFrame:
    """Every product's offer for every row, in long form (one row per applicant and product).

    Returns:
        Columns ``row`` (the input's index label), ``product``, ``eligible``, ``failed_rules``, the
        waterfall columns as in :func:`apply_policy`, ``binding_constraint``, ``rate``, ``ead``, ``lgd``,
        ``expected_loss``, ``expected_loss_net``, ``decision`` (this product's own decision) and
        ``recommended`` (bool). Rows are ordered by applicant, then catalogue order.
    """
    offers = evaluate_products(frame, policy)
    n, n_products = offers.limit.shape
    choice, any_offer = _choose(offers, policy)
    recommended = np.zeros((n, n_products), dtype=bool)
    recommended[np.arange(n)[any_offer], choice[any_offer]] = True
    eligible, veto = offers.eligible, offers.veto[:, None]
    why_not = np.where(veto, 0, np.where(offers.pd_failed, 1, 2))
    binding = np.where(eligible, offers.binding + _STEP_OFFSET, why_not)
    failed_positions = np.stack([positions for positions, _ in offers.failed_rules], axis=1)
    failed_texts: list[str] = []
    for j, (_, texts) in enumerate(offers.failed_rules):
        failed_positions[:, j] += len(failed_texts)
        failed_texts.extend(texts)
    columns: dict[str, Any] = {
        "row": np.repeat(np.asarray(frame.index, dtype=object), n_products),
        "product": str_column(np.tile(np.arange(n_products), n), offers.product_ids),
        "eligible": eligible.reshape(-1),
        "failed_rules": str_column(failed_positions.reshape(-1), failed_texts),
    }
    for name in (
        "capacity", "points_multiplier", "risk_multiplier", "limit_capacity", "limit_after_points",
        "limit_after_risk", "limit_after_headroom", "limit_after_cap", "limit",
    ):  # fmt: skip
        columns[name] = getattr(offers, name).reshape(-1)
    columns["binding_constraint"] = str_column(binding.reshape(-1), BINDING_LABELS)
    for name in ("rate", "ead", "lgd", "expected_loss", "expected_loss_net"):
        columns[name] = getattr(offers, name).reshape(-1)
    columns["rate"] = np.where(columns["limit"] > 0, columns["rate"], np.nan)
    columns["decision"] = str_column(offers.decision.reshape(-1), DECISIONS)
    columns["recommended"] = recommended.reshape(-1)
    out = pd.DataFrame(columns)
    return out
