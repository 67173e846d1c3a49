"""Reason codes: the one to four principal reasons behind an adverse decision, with Chinese and English text.

Only adverse outcomes get reasons: ``decline``, ``refer``, and an ``approve`` whose limit was cut below what
the firm's capacity supports (by the points tier, the PD grade or existing unsecured debt; the product cap
and rounding are product design, not adverse). Reasons are drawn, in this order, from

0. the trigger that decided a refer or a decline: ``T01`` (the PD above the offered product's refer line),
   ``T02`` (the PD above every product's cut-off), or the refer rules hit (their ``P..`` codes);
1. vetoes (``veto_reasons``) — on a vetoed decline, the trigger itself;
2. policy rules: on a decline, the failed eligibility rules of the *nearest* product (fewest failed rules
   among the policy's ``reason_products``); then the limit-waterfall steps that cut the limit (points
   tier, headroom, capacity, minimum offer),
3. points deductions (``deduction_<id>`` columns), largest first,
4. PD-model reason families: contributions (``contrib_<feature>``, calibrated log-odds) summed per family,
   those that raised the PD, largest first.

Within a source, ties are broken by code. A PD trigger never stands alone (that would be a bare "model
score" reason): on a row it triggered, the model families come right after it, as the reasons why the PD
is that high, and the largest one is named even when it is small.
Everything is computed on whole arrays; only the distinct code lists are turned into strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from credit_points.exceptions import DataValidationError
from credit_points.explain.config import ReasonCodesConfig
from credit_points.policy.config import PolicyConfig
from credit_points.policy.decision import (
    apply_policy,
    policy_input_columns,
    prepare_columns,
    refer_rule_hits,
    str_column,
)

#: Decision columns reason codes read (from :func:`credit_points.policy.decision.apply_policy`).
DECISION_COLUMNS: tuple[str, ...] = (
    "decision",
    "product",
    "limit",
    "limit_capacity",
    "points_multiplier",
    "limit_after_risk",
    "limit_after_headroom",
    "binding_constraint",
    "prob_default",
)
_GROUP = {
    "trigger": 0,
    "refer_rule": 0.25,
    "veto": 1,
    "rule": 2,
    "limit_step": 2,
    "deduction": 3,
    "family": 4,
}
#: where the model families rank on a row whose trigger is its PD: right after the trigger (they say why)
_FAMILY_AFTER_PD_TRIGGER = 0.5
_BUILT_IN_RULES = frozenset({"no_veto", "pd_cutoff"})
_EPS = 1e-9
_ABSENT = 1e12  # sort key of a reason a row does not have
_GROUP_STEP = 1e7  # sort-key distance between sources; sizes (points, log-odds) are far smaller


_SMALL = 64


def _factorize(column: Any) -> tuple[np.ndarray, list[Any]]:
    """``pd.factorize(column, use_na_sentinel=True)``: codes (-1 for missing) and uniques in order of appearance.

    A short column (the API's few rows) is coded in plain Python: pandas' hashing machinery costs far more
    than the work on a handful of values.

    Examples:
        >>> codes, uniques = _factorize(["refer", None, "approve", "refer"])
        >>> codes.tolist(), uniques
        ([0, -1, 1, 0], ['refer', 'approve'])
    """
    if len(column) > _SMALL:
        codes, uniques = pd.factorize(np.asarray(column, dtype=object), sort=False, use_na_sentinel=True)
        return np.asarray(codes), list(uniques)
    values = column.tolist() if hasattr(column, "tolist") else list(column)
    position: dict[Any, int] = {}
    out = np.empty(len(values), dtype=np.intp)
    for i, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out[i] = -1
        else:
            out[i] = position.setdefault(value, len(position))
    return out, list(position)


class _Labels:
    """A text column factorised once, so each ``== value`` test is an integer comparison."""

    def __init__(self, column: Any) -> None:
        codes, uniques = _factorize(column)
        self._codes = codes
        self._position = {str(u): k for k, u in enumerate(uniques)}

    def __eq__(self, value: object) -> np.ndarray:  # type: ignore[override]
        return self._codes == self._position.get(str(value), -2)

    __hash__ = None  # type: ignore[assignment]


def _decisions(frame: pd.DataFrame, policy: PolicyConfig) -> pd.DataFrame:
    needed = [*DECISION_COLUMNS, *(f"failed_rules_{p.id}" for p in policy.products)]
    if all(c in frame.columns for c in needed):
        return frame
    decided = apply_policy(frame, policy)
    if "prob_default" not in decided.columns:  # an input of the policy, read by the PD triggers
        decided = decided.assign(prob_default=frame["prob_default"].to_numpy())
    return decided


def adverse_outcome(decisions: pd.DataFrame | Mapping[str, Any], policy: PolicyConfig) -> np.ndarray:
    """Which rows have an adverse outcome (and so get reason codes and need model contributions).

    Adverse: ``decline``; ``refer``; or ``approve`` with a limit below the capacity of the recommended
    product, capped and rounded (a cut by the points tier, the PD grade or existing unsecured debt).

    Args:
        decisions: the frame :func:`~credit_points.policy.decision.apply_policy` returns (or a frame with its
            columns, or the dict of :func:`~credit_points.policy.decision.policy_columns`).
        policy: the policy the decisions were made under.

    Examples:
        >>> from credit_points.policy.config import load_policy
        >>> policy = load_policy()
        >>> frame = pd.DataFrame({"decision": ["approve", "approve", "refer"], "product": ["jifen_dai"] * 3,
        ...     "limit": [1e6, 5e5, 1e6], "limit_capacity": [1e6, 1e6, 1e6]})
        >>> adverse_outcome(frame, policy).tolist()
        [False, True, True]
    """
    approved = _Labels(decisions["decision"]) == "approve"
    product = _Labels(decisions["product"])
    capacity = np.asarray(decisions["limit_capacity"], dtype="float64")
    unit = np.ones(len(capacity))
    cap = np.zeros(len(capacity))
    for p in policy.products:
        here = product == p.id
        unit[here] = p.rounding_unit
        cap[here] = p.cap
    full = np.floor(np.minimum(capacity, cap) / unit + _EPS) * unit
    reduced = approved & (np.asarray(decisions["limit"], dtype="float64") < full)
    return np.asarray(~approved | reduced, dtype=bool)


def _has_id(values: pd.Series | Any, item: str) -> np.ndarray:
    """Rows of a ``;``-joined id column that hold ``item`` (parsed once per distinct value)."""
    codes, uniques = _factorize(values)
    table = np.array([item in str(u or "").split(";") for u in uniques] + [False], dtype=bool)
    return table[np.where(codes < 0, len(uniques), codes)]


def _membership(
    values: pd.Series, ids: list[str], source: str, *, skip: frozenset[str] = frozenset()
) -> np.ndarray:
    """Boolean (n, len(ids)) from a ``;``-joined id column, parsed once per distinct value."""
    # a missing value (NA sentinel) takes the last, all-False row, as an empty text would
    codes, uniques = _factorize(values)
    position = {i: k for k, i in enumerate(ids)}
    table = np.zeros((len(uniques) + 1, len(ids)), dtype=bool)
    for u, text in enumerate(uniques):
        for item in filter(None, str(text).split(";")):
            if item in skip:
                continue
            if item not in position:
                raise DataValidationError(
                    f"{source} id {item!r} has no reason code in the reason-code table",
                    field=str(values.name) if values.name is not None else None,
                    value=item,
                )
            table[u, position[item]] = True
    return table[np.where(codes < 0, len(uniques), codes)]


def group_contributions(contribs_frame: pd.DataFrame, codes_config: ReasonCodesConfig) -> pd.DataFrame:
    """Sum per-feature contributions (``contrib_<feature>`` columns) into reason families.

    Other columns, and ``contrib_base``, are ignored. A family gets NaN on a row where none of its features'
    contributions is there (not computed for that row, or no such column).

    Returns:
        One column per family (family id, table order), same index.

    Raises:
        DataValidationError: a feature that belongs to no family (named).

    Examples:
        >>> from credit_points.explain.config import load_reason_codes
        >>> codes = load_reason_codes()
        >>> contribs = pd.DataFrame({"contrib_debt_to_assets_ratio": [0.4], "contrib_bank_debt_to_revenue_ratio": [0.1],
        ...                          "contrib_log_revenue": [-0.2], "contrib_base": [-3.0]})
        >>> families = group_contributions(contribs, codes)
        >>> float(families.loc[0, "leverage"]), float(families.loc[0, "scale"]), float(families.loc[0, "points"])
        (0.5, -0.2, nan)
    """
    columns = [c for c in contribs_frame.columns.tolist() if c.startswith("contrib_") and c != "contrib_base"]
    family_ids = [f.id for f in codes_config.families]
    block = contribs_frame[columns].to_numpy(dtype="float64", na_value=np.nan)  # one conversion
    sums = _family_sums([c[len("contrib_") :] for c in columns], block, codes_config)
    return pd.DataFrame(sums, index=contribs_frame.index, columns=family_ids)


def _family_sums(features: list[str], block: np.ndarray, codes_config: ReasonCodesConfig) -> np.ndarray:
    """Contributions ``(n, features)`` summed per reason family ``(n, families)``; NaN where none is known."""
    family_ids = [f.id for f in codes_config.families]
    position = {f: k for k, f in enumerate(family_ids)}
    n = block.shape[0]
    # accumulate column by column into Fortran-ordered sums: contiguous, and no BLAS call to contend for
    sums = np.zeros((n, len(family_ids)), dtype="float64", order="F")
    counted = np.zeros((n, len(family_ids)), dtype=np.int32, order="F")
    for feature in features:
        if codes_config.feature_family.get(feature) is None:
            raise DataValidationError(
                f"feature {feature!r} belongs to no reason family", field=f"contrib_{feature}", value=feature
            )
    for j, feature in enumerate(features):
        values = block[:, j]
        known = ~np.isnan(values)
        k = position[codes_config.feature_family[feature]]
        sums[:, k] += np.where(known, values, 0.0)
        counted[:, k] += known
    sums[counted == 0] = np.nan
    return sums


def _candidates(
    frame: pd.DataFrame,
    decisions: pd.DataFrame,
    policy: PolicyConfig,
    codes_config: ReasonCodesConfig,
    refer_hits: np.ndarray | None = None,
    contributions: tuple[list[str], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every possible reason for every (adverse) row: present (n, m), size, group, codes (m,), family sizes,
    and whether the row's trigger is its PD."""
    n = len(frame)
    blocks: list[tuple[np.ndarray, np.ndarray, str, list[str]]] = []  # present, size, source, codes
    decision = _Labels(decisions["decision"])
    declined = decision == "decline"
    referred = decision == "refer"

    # 0. the trigger: the PD above the chosen product's refer line, the PD above every cut-off, and (below)
    # the refer rules hit
    triggers = np.zeros((n, len(codes_config.triggers)), dtype=bool)
    for k, trigger in enumerate(codes_config.triggers):
        if trigger.id == "pd_cutoff":
            triggers[:, k] = declined & (_Labels(decisions["binding_constraint"]) == "pd_cutoff")
        elif trigger.id == "pd_refer_band":
            triggers[:, k] = referred & pd_in_refer_band(decisions, policy)
    blocks.append((triggers, np.zeros(triggers.shape), "trigger", [t.code for t in codes_config.triggers]))

    # 1. vetoes
    veto_ids = [v.id for v in codes_config.vetoes]
    if "veto_reasons" in frame.columns:
        present = _membership(frame["veto_reasons"], veto_ids, "veto")
    elif "veto" in frame.columns and np.asarray(frame["veto"], dtype=bool).any():
        raise DataValidationError("vetoed rows need their veto_reasons", field="veto_reasons")
    else:
        present = np.zeros((n, len(veto_ids)), dtype=bool)
    blocks.append((present, np.zeros(present.shape), "veto", [v.code for v in codes_config.vetoes]))

    # 2a. policy rules: the nearest product's failed rules on a decline, the refer rules hit on a refer
    rule_ids = [r.id for r in codes_config.rules]
    rules = np.zeros((n, len(rule_ids)), dtype=bool)
    refer_rules = np.zeros((n, len(rule_ids)), dtype=bool)
    reason_products = list(policy.reason_products) or [p.id for p in policy.products]
    if declined.any():
        failed = [
            _membership(decisions[f"failed_rules_{p}"], rule_ids, "rule", skip=_BUILT_IN_RULES)
            for p in reason_products
        ]
        counts = np.stack([f.sum(axis=1) for f in failed], axis=1)
        nearest = np.argmin(counts, axis=1)
        chosen = np.stack(failed, axis=0)[nearest, np.arange(n)]
        rules |= chosen & declined[:, None]
        # the nearest product failed on its PD cut-off: the PD is what declined the firm there
        over_cutoff = np.stack(
            [_has_id(decisions[f"failed_rules_{p}"], "pd_cutoff") for p in reason_products]
        )[nearest, np.arange(n)]
        for k, trigger in enumerate(codes_config.triggers):
            if trigger.id == "pd_cutoff":
                # (a vetoed decline is triggered by its veto, whatever else failed)
                not_vetoed = _Labels(decisions["binding_constraint"]) == "eligibility"
                triggers[:, k] |= declined & over_cutoff & not_vetoed
    if referred.any() and policy.refer_rules:
        hits = (
            refer_rule_hits(prepare_columns(frame, policy), policy, n) if refer_hits is None else refer_hits
        )
        position = {r: k for k, r in enumerate(rule_ids)}
        for k, rule in enumerate(policy.refer_rules):
            if rule.id not in position:
                raise DataValidationError(
                    f"refer rule {rule.id!r} has no reason code in the reason-code table", value=rule.id
                )
            refer_rules[:, position[rule.id]] |= hits[:, k] & referred
    # a refer rule hit is what referred the firm: it ranks with the triggers
    blocks.append(
        (refer_rules, np.zeros(refer_rules.shape), "refer_rule", [r.code for r in codes_config.rules])
    )
    blocks.append((rules, np.zeros(rules.shape), "rule", [r.code for r in codes_config.rules]))

    # 2b. limit-waterfall steps that cut the limit
    offered = ~(_Labels(decisions["product"]) == "")
    binding = _Labels(decisions["binding_constraint"])
    step_hit = {
        "points_multiplier": (offered & (decisions["points_multiplier"].to_numpy(dtype="float64") < 1))
        | (declined & (binding == "points_multiplier")),
        "headroom": (
            offered
            & (
                decisions["limit_after_headroom"].to_numpy(dtype="float64")
                < decisions["limit_after_risk"].to_numpy(dtype="float64")
            )
        )
        | (declined & (binding == "headroom")),
        "capacity": declined & (binding == "capacity"),
        "min_limit": declined & (binding == "min_limit"),
    }
    steps = np.zeros((n, len(codes_config.limit_steps)), dtype=bool)
    for k, step in enumerate(codes_config.limit_steps):
        if step.id in step_hit:
            steps[:, k] = step_hit[step.id]
    blocks.append((steps, np.zeros(steps.shape), "limit_step", [s.code for s in codes_config.limit_steps]))

    # 3. points deductions, largest first
    deduction_position = {d.id: k for k, d in enumerate(codes_config.deductions)}
    sizes = np.zeros((n, len(codes_config.deductions)))
    deduction_columns = [c for c in frame.columns.tolist() if c.startswith("deduction_")]
    deduction_block = frame[deduction_columns].to_numpy(dtype="float64")  # one conversion
    for j, column in enumerate(deduction_columns):
        values = np.abs(np.nan_to_num(deduction_block[:, j], nan=0.0))
        deduction_id = column[len("deduction_") :]
        if deduction_id not in deduction_position:
            if (values > 0).any():
                raise DataValidationError(
                    f"points deduction {deduction_id!r} has no reason code in the reason-code table",
                    field=column,
                    value=deduction_id,
                )
            continue
        sizes[:, deduction_position[deduction_id]] = values
    blocks.append((sizes > 0, sizes, "deduction", [d.code for d in codes_config.deductions]))

    # 4. model reason families that raised the PD, largest first
    if contributions is None:
        families = group_contributions(frame, codes_config).to_numpy()
    else:
        families = _family_sums(*contributions, codes_config)
    family_sizes = np.where(np.isnan(families), -np.inf, families)
    blocks.append(
        (
            family_sizes > codes_config.min_contribution,
            family_sizes,
            "family",
            [f.code for f in codes_config.families],
        )
    )

    present = np.concatenate([b[0] for b in blocks], axis=1)
    size = np.concatenate([b[1] for b in blocks], axis=1)
    group = np.concatenate([np.full(b[0].shape[1], _GROUP[b[2]]) for b in blocks])
    codes = np.array([c for b in blocks for c in b[3]], dtype=object)
    pd_trigger = np.asarray(triggers.any(axis=1), dtype=bool)
    return present, size, group, codes, family_sizes, pd_trigger


def pd_in_refer_band(decisions: pd.DataFrame | Mapping[str, Any], policy: PolicyConfig) -> np.ndarray:
    """Rows whose PD is above the refer line of the product they were offered (the PD-band referral)."""
    product = _Labels(decisions["product"])
    prob_default = np.asarray(decisions["prob_default"], dtype="float64")
    line = np.full(len(prob_default), np.inf)
    for p in policy.products:
        line = np.where(product == p.id, policy.product_refer_pd_above(p), line)
    with np.errstate(invalid="ignore"):
        return np.asarray(prob_default > line, dtype=bool)


_INPUTS: dict[int, tuple[PolicyConfig, frozenset[str]]] = {}


def _policy_inputs(policy: PolicyConfig) -> frozenset[str]:
    """The policy's input columns plus ``veto_reasons``, computed once per policy object."""
    cached = _INPUTS.get(id(policy))
    if cached is not None and cached[0] is policy:
        return cached[1]
    if len(_INPUTS) >= 32:
        _INPUTS.clear()
    value = frozenset(policy_input_columns(policy) | {"veto_reasons"})
    _INPUTS[id(policy)] = (policy, value)
    return value


def reason_codes(
    frame: pd.DataFrame,
    policy: PolicyConfig,
    codes_config: ReasonCodesConfig,
    max_codes: int = 4,
) -> pd.DataFrame:
    """The reason codes of each decision: 1 to ``max_codes`` on adverse outcomes, none otherwise.

    Args:
        frame: the policy input (record, points and PD columns, ``contrib_<feature>`` where computed), with
            or without the columns of :func:`~credit_points.policy.decision.apply_policy` (computed when absent).
        policy: the policy the decisions were made under.
        codes_config: the reason-code table.
        max_codes: at most this many (and at most the table's ``max_codes``).

    Returns:
        Same index; ``reason_codes`` (``;``-joined codes, ``""`` on favourable outcomes) and
        ``reason_codes_version`` (the table version).

    Raises:
        DataValidationError: an adverse row has no reason at all (its model contributions were not
            computed), or an id or feature has no code in the table.
    """
    positions, texts = reason_code_positions(frame, policy, codes_config, max_codes)
    result = pd.DataFrame({"reason_codes": str_column(positions, texts)}, index=frame.index)
    result["reason_codes_version"] = str_column(np.zeros(len(frame), dtype=np.int64), [codes_config.version])
    return result


def reason_code_positions(
    frame: pd.DataFrame,
    policy: PolicyConfig,
    codes_config: ReasonCodesConfig,
    max_codes: int = 4,
    *,
    refer_hits: np.ndarray | None = None,
    contributions: tuple[list[str], np.ndarray] | None = None,
    adverse: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """:func:`reason_codes` as ``(positions, texts)``: row ``i`` has the codes ``texts[positions[i]]``.

    ``refer_hits`` are the refer-rule hits of every row of ``frame`` when already computed (the policy's
    :class:`~credit_points.policy.decision.ProductOffers`), so they are not evaluated twice; ``contributions``
    are ``(features, matrix)``, the ``contrib_<feature>`` columns of ``frame`` as one ``(rows, features)``
    float block (NaN where not computed), read instead of the frame's columns; ``adverse`` is
    :func:`adverse_outcome` of the frame when already computed.
    """
    decisions = _decisions(frame, policy)
    limit = max(1, min(max_codes, codes_config.max_codes))
    if adverse is None:
        adverse = adverse_outcome(decisions, policy)
    rows = np.flatnonzero(adverse)
    positions = np.zeros(len(frame), dtype=np.int64)
    texts: list[str] = [""]
    if rows.size:
        needed = _policy_inputs(policy)
        columns = [
            c for c in frame.columns.tolist() if c in needed or c.startswith(("deduction_", "contrib_"))
        ]
        reason_products = list(policy.reason_products) or [p.id for p in policy.products]
        decision_columns = [*DECISION_COLUMNS, *(f"failed_rules_{p}" for p in reason_products)]
        everyone = rows.size == len(frame)
        sub = frame if everyone else frame[columns].iloc[rows]
        sub_decisions = decisions if everyone else decisions[decision_columns].iloc[rows]
        hits = None if refer_hits is None else (refer_hits if everyone else refer_hits[rows])
        contrib = None
        if contributions is not None:
            contrib = (contributions[0], contributions[1] if everyone else contributions[1][rows])
        present, size, group, codes, family_sizes, pd_trigger = _candidates(
            sub, sub_decisions, policy, codes_config, hits, contrib
        )
        n_family = family_sizes.shape[1]
        families = slice(present.shape[1] - n_family, present.shape[1])
        # a PD trigger never stands alone: the family that raised the PD most follows it even when none
        # raised it by more than the table's minimum
        alone = pd_trigger & ~present[:, families].any(axis=1) & np.isfinite(family_sizes).any(axis=1)
        if alone.any():
            best = np.argmax(family_sizes[alone], axis=1)
            present[np.flatnonzero(alone), present.shape[1] - n_family + best] = True
        empty = ~present.any(axis=1)
        has_contribs = np.isfinite(family_sizes).any(axis=1)
        # a row only the model explains, or one its PD triggered, needs the model's own reasons
        unexplained = (empty | pd_trigger) & ~has_contribs
        if unexplained.any():
            label = sub.index[int(np.flatnonzero(unexplained)[0])]
            raise DataValidationError(
                "adverse outcome with no reason: compute model contributions for this row",
                field="contrib_*",
                value=label,
            )
        if empty.any():  # only the model explains it, and no family raised the PD: name the least favourable
            best = np.argmax(family_sizes[empty], axis=1)
            fill = np.zeros((int(empty.sum()), n_family), dtype=bool)
            fill[np.arange(fill.shape[0]), best] = True
            present[
                np.flatnonzero(empty)[:, None], np.arange(present.shape[1] - n_family, present.shape[1])
            ] = fill
        # columns in (source, code) order, so a stable sort on (absent, source, -size) breaks ties by code
        is_family = np.zeros(present.shape[1], dtype=bool)
        is_family[families] = True
        static = np.lexsort((codes.astype(str), group))
        present, size, group, codes = present[:, static], size[:, static], group[static], codes[static]
        is_family = is_family[static]
        # on a PD-triggered row the model families come right after the trigger: they say why the PD is high
        rank = np.where(pd_trigger[:, None] & is_family[None, :], _FAMILY_AFTER_PD_TRIGGER, group[None, :])
        key = np.where(present, rank * _GROUP_STEP - size, _ABSENT)  # present sizes are finite
        top = np.argsort(key, axis=1, kind="stable")[:, :limit]
        keep = np.take_along_axis(present, top, axis=1)
        base = present.shape[1] + 1
        combo = np.zeros(len(rows), dtype=np.int64)
        for j in range(limit):
            combo = combo * base + np.where(keep[:, j], top[:, j] + 1, 0)
        _, first, inverse = np.unique(combo, return_index=True, return_inverse=True)
        texts = [";".join(codes[top[i, j]] for j in range(limit) if keep[i, j]) for i in first]
        positions = np.full(len(frame), len(texts), dtype=np.int64)
        positions[rows] = inverse.reshape(-1)
        texts.append("")
    return positions, texts


def reason_text(
    reason_codes_column: pd.Series, codes_config: ReasonCodesConfig, lang: str = "zh", sep: str | None = None
) -> pd.Series:
    """The texts of ``;``-joined codes, joined by ``sep`` (default "；" for zh, "; " for en).

    Examples:
        >>> from credit_points.explain.config import load_reason_codes
        >>> codes = load_reason_codes()
        >>> reason_text(pd.Series(["V04;M03", ""]), codes, "en").tolist()
        ['The tax credit grade is D; High level of debt', '']
    """
    joiner = sep if sep is not None else ("；" if lang == "zh" else "; ")
    factor, uniques = pd.factorize(reason_codes_column.fillna("").astype(object), sort=False)
    texts = np.array(
        [joiner.join(codes_config.text(c, lang) for c in filter(None, str(u).split(";"))) for u in uniques]
        + [""],
        dtype=object,
    )
    return pd.Series(
        texts[np.where(factor < 0, len(uniques), factor)], index=reason_codes_column.index, dtype="str"
    )


def reason_table(reason_codes_column: pd.Series, codes_config: ReasonCodesConfig) -> pd.DataFrame:
    """Long form for reports and the API: one row per (decision, reason).

    Returns:
        Columns ``row`` (index label), ``rank`` (1 = first), ``code``, ``source`` (veto / rule / limit_step /
        deduction / family), ``reason_id``, ``text_zh``, ``text_en``.
    """
    split = reason_codes_column.fillna("").astype(object).str.split(";").explode()
    split = split[split.astype(bool)]
    records: dict[str, Any] = {
        "row": split.index.to_numpy(),
        "rank": split.groupby(level=0, sort=False).cumcount().to_numpy() + 1,
        "code": split.to_numpy(dtype=object),
    }
    lookup = {code: (source, item) for code, (source, item) in codes_config.by_code.items()}
    records["source"] = [lookup[c][0] for c in records["code"]]
    records["reason_id"] = [lookup[c][1].id for c in records["code"]]
    records["text_zh"] = [lookup[c][1].text_zh for c in records["code"]]
    records["text_en"] = [lookup[c][1].text_en for c in records["code"]]
    return pd.DataFrame(records)
