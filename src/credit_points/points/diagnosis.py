"""Weak spots (短板) and targets: which raw value reaches the stage median / P75, and what the firm gains by it.

:func:`indicator_targets` answers "what raw value of indicator X reaches the stage median (P75)" from the
reference table (the value at that quantile; for lower-is-better indicators the mirrored quantile; where a
stage uses fallback bands, the first band edge that scores at least what a median / P75 firm would). Counts
and tiers are rounded to whole units in the firm's favour of reaching the target.

:func:`weak_spots` takes each firm's actionable indicators, picks the nearest target it has not reached
(median first, then P75), and keeps the ``k`` with the largest gain in points, with a sentence in Chinese and
in English: "raise R&D intensity from 2.1% to 4.3% (stage P75): +3.2 points".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from credit_points.points.config import Indicator, PointsConfig
from credit_points.points.reference import ReferenceTable
from credit_points.points.scorer import PointsScorer, build_reference

_TARGET_ZH = {"median": "同阶段中位数", "p75": "同阶段P75"}
_TARGET_EN = {"median": "stage median", "p75": "stage P75"}
WEAK_SPOT_COLUMNS = [
    "row", "indicator", "label_zh", "label_en", "current_value", "target", "target_value", "gain_points",
    "text_zh", "text_en",
]  # fmt: skip


def _target_value(cfg: PointsConfig, ref: ReferenceTable, stage: str, ind: Indicator, prob: float) -> float:
    if ind.kind == "boolean":
        return 1.0 if ind.direction == "higher" else 0.0
    if ref.uses_quantiles(stage, ind.id):
        raw_prob = prob if ind.direction == "higher" else 1.0 - prob
        value = ref.quantile(stage, ind.id, raw_prob)
        if ind.integer:
            value = float(np.ceil(value) if ind.direction == "higher" else np.floor(value))
        return value
    if ind.kind != "percentile":
        return float("nan")
    bands = cfg.fallback_bands(ind, stage)
    if bands is None:  # pragma: no cover - the validator requires fallback bands
        return float("nan")
    wanted = min(1.0, prob / cfg.scoring.full_at)
    scores = np.asarray(bands.scores)
    edges = np.asarray(bands.edges)
    if ind.direction == "higher":
        ok = np.flatnonzero(scores[1:] >= wanted - 1e-12)
        return float(edges[ok[0]]) if ok.size else float("nan")
    # lower is better: the largest value still scoring `wanted` lies just below the first edge past it
    bad = np.flatnonzero(scores[1:] < wanted - 1e-12)
    if not bad.size:
        return float("nan")
    return float(np.nextafter(edges[bad[0]], -np.inf))


def indicator_targets(
    config: PointsConfig,
    reference: ReferenceTable,
    *,
    indicators: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Raw value reaching each target (stage median, P75 …) per stage and indicator, and its points.

    Args:
        config: the points profile.
        reference: the pinned reference table.
        indicators: indicator ids (default: all).
        targets: target names from ``config.scoring.targets`` (default: all, e.g. median and p75).

    Returns:
        Long frame: ``stage``, ``indicator``, ``target``, ``prob``, ``target_value``, ``target_score``
        (fraction of the weight), ``target_points``. ``target_value`` is NaN where no target exists.

    Examples:
        >>> from credit_points.points.config import load_points_config
        >>> from credit_points.points.testing import example_frame
        >>> cfg = load_points_config("torch-18")
        >>> ref = build_reference(example_frame(400), cfg)
        >>> t = indicator_targets(cfg, ref, indicators=["rd_intensity"], targets=["median"])
        >>> t.set_index("stage").loc["growth", "target_value"] == ref.quantile("growth", "rd_intensity", 0.5)
        np.True_
    """
    cfg = config
    names = list(targets) if targets is not None else list(cfg.scoring.targets)
    ids = list(indicators) if indicators is not None else cfg.indicator_ids
    scorer = PointsScorer(cfg, reference)
    positions = [cfg.indicator_ids.index(i) for i in ids]
    n_stages = len(cfg.stages)
    rows = []
    for t in names:
        prob = cfg.scoring.targets[t]
        values = np.full((len(cfg.indicators), n_stages), np.nan)
        for s, stage in enumerate(cfg.stage_ids):
            for j in positions:
                values[j, s] = _target_value(cfg, reference, stage, cfg.indicators[j], prob)
        scores, _ = scorer.score_values(np.arange(n_stages), values, with_pct=False)
        points = scores * cfg.stage_weight_matrix.T
        for s, stage in enumerate(cfg.stage_ids):
            for j in positions:
                ok = not np.isnan(values[j, s])
                rows.append(
                    (
                        stage,
                        cfg.indicators[j].id,
                        t,
                        prob,
                        values[j, s],
                        scores[j, s] if ok else np.nan,
                        points[j, s] if ok else np.nan,
                    )  # fmt: skip
                )
    return pd.DataFrame(
        rows,
        columns=["stage", "indicator", "target", "prob", "target_value", "target_score", "target_points"],
    )


def _format(values: np.ndarray, unit: str, lang: str) -> np.ndarray:
    values = np.asarray(values, dtype="float64")
    if unit == "ratio":
        return np.char.mod("%.1f%%", values * 100)
    if unit in ("yuan", "yuan_per_person"):
        return np.char.mod("%.1f万元", values / 1e4) if lang == "zh" else np.char.mod("CNY %.0f", values)
    if unit in ("count", "tier", "flag", "days"):
        return np.char.mod("%.0f", values)
    return np.char.mod("%.2f", values)


def weak_spots(
    frame: pd.DataFrame,
    scored: pd.DataFrame,
    config: PointsConfig,
    reference: ReferenceTable | None = None,
    k: int = 3,
) -> pd.DataFrame:
    """The ``k`` actionable indicators per firm where reaching the stage median / P75 gains the most points.

    Args:
        frame: the applicant records that were scored (only its index is used).
        scored: :func:`~credit_points.points.scorer.score_points` output for ``frame``.
        config: the points profile used to score.
        reference: the reference used to score (``None``: ``frame`` was its own reference).
        k: at most this many weak spots per firm.

    Returns:
        Long frame, columns ``row`` (index label of the firm), ``indicator``, ``label_zh``, ``label_en``,
        ``current_value``, ``target`` ("median" / "p75"), ``target_value``, ``gain_points``, ``text_zh``,
        ``text_en``; firms in input order, largest gain first. Firms with nothing to gain have no row.

    Examples:
        >>> from credit_points.points.config import load_points_config
        >>> from credit_points.points.scorer import score_points
        >>> from credit_points.points.testing import example_frame
        >>> cfg = load_points_config("torch-18")
        >>> firms = example_frame(200)
        >>> ref = build_reference(firms, cfg)
        >>> spots = weak_spots(firms, score_points(firms, cfg, ref), cfg, ref, k=2)
        >>> bool((spots["gain_points"] > 0).all()), int(spots.groupby("row").size().max())
        (True, 2)
    """
    cfg = config
    if reference is None:
        reference = build_reference(frame, cfg)
    actionable = [j for j, ind in enumerate(cfg.indicators) if ind.actionable and ind.kind != "boolean"]
    n = len(scored)
    if n == 0 or not actionable or k <= 0:
        return pd.DataFrame({c: [] for c in WEAK_SPOT_COLUMNS})
    stage_index = {s: i for i, s in enumerate(cfg.stage_ids)}
    codes = scored["stage"].map(stage_index).to_numpy(dtype="int64")
    table = indicator_targets(cfg, reference, indicators=[cfg.indicator_ids[j] for j in actionable])
    target_names = list(cfg.scoring.targets)

    best_gain = np.zeros((len(actionable), n))
    best_target = np.full((len(actionable), n), -1)
    best_value = np.full((len(actionable), n), np.nan)
    current = np.empty((len(actionable), n))
    for a, j in enumerate(actionable):
        ind = cfg.indicators[j]
        cur = scored[f"ind_{ind.id}_value"].to_numpy(dtype="float64")
        cur_points = scored[f"ind_{ind.id}_points"].to_numpy(dtype="float64")
        current[a] = cur
        sub = table[table["indicator"] == ind.id]
        for t, name in enumerate(target_names):
            per_stage = sub[sub["target"] == name].set_index("stage").reindex(cfg.stage_ids)
            tv = per_stage["target_value"].to_numpy(dtype="float64")[codes]
            tp = per_stage["target_points"].to_numpy(dtype="float64")[codes]
            better = (tv > cur) if ind.direction == "higher" else (tv < cur)
            better |= np.isnan(cur) & ~np.isnan(tv)
            gain = np.where(better, tp - cur_points, 0.0)
            take = (best_target[a] < 0) & (gain > 1e-9)  # the nearest target not yet reached
            best_gain[a] = np.where(take, gain, best_gain[a])
            best_value[a] = np.where(take, tv, best_value[a])
            best_target[a] = np.where(take, t, best_target[a])

    firm, which = np.nonzero(best_target.T >= 0)  # row-major: firms in order, indicators in config order
    if firm.size == 0:
        return pd.DataFrame({c: [] for c in WEAK_SPOT_COLUMNS})
    gain = best_gain.T[firm, which]
    order = np.lexsort((which, -gain, firm))
    firm, which, gain = firm[order], which[order], gain[order]
    first = np.r_[0, np.flatnonzero(np.diff(firm)) + 1]
    rank_in_firm = np.arange(len(firm)) - np.repeat(first, np.diff(np.r_[first, len(firm)]))
    keep = rank_in_firm < k
    firm, which, gain = firm[keep], which[keep], gain[keep]

    ind_ids = np.asarray([cfg.indicators[j].id for j in actionable], dtype=object)[which]
    target = np.asarray(target_names, dtype=object)[best_target.T[firm, which]]
    cur = current.T[firm, which]
    tval = best_value.T[firm, which]
    out = pd.DataFrame(
        {
            "row": np.asarray(scored.index)[firm],
            "indicator": ind_ids,
            "label_zh": [cfg.label(i, "zh") for i in ind_ids],
            "label_en": [cfg.label(i, "en") for i in ind_ids],
            "current_value": cur,
            "target": target,
            "target_value": tval,
            "gain_points": gain,
        }
    )
    out["text_zh"], out["text_en"] = _sentences(cfg, out, [actionable[w] for w in which])
    return out[WEAK_SPOT_COLUMNS].reset_index(drop=True)


def _in_sentence(label: str) -> str:
    """An English label inside a sentence: "Valid invention patents" → "valid invention patents", "R&D …" kept."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _sentences(cfg: PointsConfig, out: pd.DataFrame, positions: list[int]) -> tuple[pd.Series, pd.Series]:
    n = len(out)
    cur_zh = np.empty(n, dtype=object)
    cur_en = np.empty(n, dtype=object)
    tgt_zh = np.empty(n, dtype=object)
    tgt_en = np.empty(n, dtype=object)
    verb_zh = np.empty(n, dtype=object)
    verb_en = np.empty(n, dtype=object)
    units = np.asarray([cfg.indicators[j].unit for j in positions], dtype=object)
    lower = np.asarray([cfg.indicators[j].direction == "lower" for j in positions])
    cur = out["current_value"].to_numpy(dtype="float64")
    tval = out["target_value"].to_numpy(dtype="float64")
    for unit in np.unique(units):  # one vectorised format per unit
        sel = units == unit
        cur_zh[sel], cur_en[sel] = _format(cur[sel], unit, "zh"), _format(cur[sel], unit, "en")
        tgt_zh[sel], tgt_en[sel] = _format(tval[sel], unit, "zh"), _format(tval[sel], unit, "en")
    cur_zh[np.isnan(cur)] = "缺失"
    cur_en[np.isnan(cur)] = "missing"
    verb_zh[:] = np.where(lower, "降低", "提高")
    verb_en[:] = np.where(lower, "reduce", "raise")
    gain = pd.Series(np.char.mod("%.1f", out["gain_points"].to_numpy(dtype="float64")), dtype="str")
    target = out["target"].astype("str")
    s = lambda a: pd.Series(a, dtype="str")  # noqa: E731
    text_zh = (
        "将" + out["label_zh"].astype("str") + "从" + s(cur_zh) + s(verb_zh) + "到" + s(tgt_zh)
        + "（" + target.map(_TARGET_ZH) + "）：+" + gain + "分"
    )  # fmt: skip
    text_en = (
        s(verb_en) + " " + out["label_en"].map(_in_sentence).astype("str") + " from " + s(cur_en) + " to " + s(tgt_en)
        + " (" + target.map(_TARGET_EN) + "): +" + gain + " points"
    )  # fmt: skip
    return text_zh, text_en
