"""The validation pack: discrimination, calibration, grade-level tests and stability, as numbers and frames.

* ``auc_with_ci`` uses **DeLong's** variance (midranks, Sun & Xu 2014) and a normal interval.
* ``grade_table`` tests each grade's observed default rate against its mean PD with the one-sided exact
  binomial test and the Jeffreys test (Beta(d + ½, n − d + ½) posterior; ECB PD back-testing); the traffic
  light follows the Jeffreys p-value: red below ``red_p``, amber below ``amber_p``, else green.
* ``hosmer_lemeshow`` groups by equal-count PD groups, χ² with ``groups − 2`` degrees of freedom.
* ``psi``/``csi_table`` bin by quantiles of the reference (training) distribution, missing as its own bin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.config import MasterScale, ValidationConfig
from credit_points.pd_model.master_scale import grade_bounds

_EPS = 1e-6


def _binary(y: Any, name: str = "y") -> np.ndarray:
    arr = np.asarray(y, dtype="float64").ravel()
    if not np.isin(arr, (0.0, 1.0)).all():
        bad = arr[~np.isin(arr, (0.0, 1.0))][0]
        raise DataValidationError(f"outcome must be 0 or 1; got {bad!r}", field=name, value=bad)
    return arr


def _scores(s: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(s, dtype="float64").ravel()
    if arr.shape[0] != n:
        raise DataValidationError(f"has {arr.shape[0]} values for {n} outcomes", field=name)
    if not np.isfinite(arr).all():
        raise DataValidationError(
            "contains NaN or infinite values", field=name, value=arr[~np.isfinite(arr)][0]
        )
    return arr


def auc_with_ci(y: Any, score: Any, level: float = 0.95) -> dict[str, float]:
    """ROC AUC with DeLong's standard error and a normal confidence interval (clipped to [0, 1]).

    Examples:
        >>> r = auc_with_ci([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> r["auc"]
        0.75
    """
    yy = _binary(y)
    s = _scores(score, len(yy), "score")
    pos, neg = s[yy == 1], s[yy == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        raise DataValidationError("AUC needs both defaults and non-defaults", field="y")
    tz = stats.rankdata(np.concatenate([pos, neg]))
    tx = stats.rankdata(pos)
    ty = stats.rankdata(neg)
    auc = float((tz[:m].sum() - m * (m + 1) / 2.0) / (m * n))
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    var = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
    se = float(np.sqrt(var))
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    return {
        "auc": auc,
        "auc_se": se,
        "auc_ci_low": max(0.0, auc - z * se),
        "auc_ci_high": min(1.0, auc + z * se),
    }


def gini(y: Any, score: Any) -> float:
    """Gini coefficient (accuracy ratio) = 2·AUC − 1.

    Examples:
        >>> gini([0, 1], [0.2, 0.9])
        1.0
    """
    return 2.0 * auc_with_ci(y, score)["auc"] - 1.0


def ks_statistic(y: Any, score: Any) -> float:
    """Kolmogorov–Smirnov distance between the score distributions of defaults and non-defaults.

    Examples:
        >>> ks_statistic([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])
        1.0
    """
    yy = _binary(y)
    s = _scores(score, len(yy), "score")
    pos, neg = np.sort(s[yy == 1]), np.sort(s[yy == 0])
    if len(pos) == 0 or len(neg) == 0:
        raise DataValidationError("KS needs both defaults and non-defaults", field="y")
    grid = np.unique(s)
    cdf_pos = np.searchsorted(pos, grid, side="right") / len(pos)
    cdf_neg = np.searchsorted(neg, grid, side="right") / len(neg)
    return float(np.max(np.abs(cdf_pos - cdf_neg)))


def brier(y: Any, prob_default: Any) -> float:
    """Brier score: mean squared error of the PD.

    Examples:
        >>> brier([0, 1], [0.0, 0.5])
        0.125
    """
    yy = _binary(y)
    p = _scores(prob_default, len(yy), "prob_default")
    return float(np.mean((p - yy) ** 2))


def _equal_count_groups(p: np.ndarray, groups: int) -> np.ndarray:
    """Group id per row: ``groups`` equal-count groups of increasing PD (stable sort; deterministic)."""
    order = np.argsort(p, kind="stable")
    ids = np.empty(len(p), dtype=int)
    for gid, chunk in enumerate(np.array_split(order, groups)):
        ids[chunk] = gid
    return ids


def calibration_table(y: Any, prob_default: Any, n_bins: int = 10) -> pd.DataFrame:
    """Equal-count PD bins: ``bin, n, defaults, observed_rate, mean_pd``."""
    yy = _binary(y)
    p = _scores(prob_default, len(yy), "prob_default")
    ids = _equal_count_groups(p, min(n_bins, len(p)))
    frame = pd.DataFrame({"bin": ids, "y": yy, "p": p})
    table = frame.groupby("bin").agg(
        n=("y", "size"), defaults=("y", "sum"), observed_rate=("y", "mean"), mean_pd=("p", "mean")
    )
    return table.reset_index()


def expected_calibration_error(y: Any, prob_default: Any, n_bins: int = 10) -> float:
    """ECE: Σ_b (n_b / N) · |observed rate_b − mean PD_b| over equal-count PD bins.

    Examples:
        >>> expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], n_bins=2)
        0.0
    """
    table = calibration_table(y, prob_default, n_bins)
    return float(np.sum(table["n"] / table["n"].sum() * np.abs(table["observed_rate"] - table["mean_pd"])))


def hosmer_lemeshow(y: Any, prob_default: Any, groups: int = 10) -> dict[str, float]:
    """Hosmer–Lemeshow statistic over equal-count PD groups; p-value from χ²(groups − 2).

    Returns:
        ``{"hl_statistic", "hl_df", "hl_p_value"}``.
    """
    yy = _binary(y)
    p = np.clip(_scores(prob_default, len(yy), "prob_default"), 1e-12, 1 - 1e-12)
    g = min(groups, len(p))
    ids = _equal_count_groups(p, g)
    n = np.bincount(ids, minlength=g).astype(float)
    observed = np.bincount(ids, weights=yy, minlength=g)
    expected = np.bincount(ids, weights=p, minlength=g)
    denom = expected * (1.0 - expected / n)
    stat = float(np.sum((observed - expected) ** 2 / denom))
    df = g - 2
    return {"hl_statistic": stat, "hl_df": float(df), "hl_p_value": float(stats.chi2.sf(stat, df))}


def _traffic_light(p_value: float, amber_p: float, red_p: float) -> str:
    if not np.isfinite(p_value):
        return "n/a"
    if p_value < red_p:
        return "red"
    if p_value < amber_p:
        return "amber"
    return "green"


def default_rate_test(
    y: Any, prob_default: Any, *, amber_p: float = 0.05, red_p: float = 0.01
) -> dict[str, Any]:
    """Observed against predicted default rate of one group of loans (a grade, or a whole portfolio).

    Returns ``n, defaults, observed_rate, mean_pd, binomial_p, jeffreys_p, traffic_light``. Both tests are
    one-sided (small p: more defaults than the mean PD predicts): the exact binomial test at the mean PD and
    the Jeffreys test (the mean PD's quantile in the Beta(d + ½, n − d + ½) posterior). An empty group has
    NaN tests and light ``n/a``.

    Examples:
        >>> r = default_rate_test([0] * 95 + [1] * 5, [0.01] * 100)
        >>> r["defaults"], r["observed_rate"], r["traffic_light"]
        (5, 0.05, 'red')
    """
    yy = _binary(y)
    p = _scores(prob_default, len(yy), "prob_default")
    n, d = len(yy), int(yy.sum())
    if n:
        mean_pd = float(p.mean())
        binom_p = float(stats.binomtest(d, n, min(max(mean_pd, 1e-12), 1.0), alternative="greater").pvalue)
        jeff_p = float(stats.beta.cdf(mean_pd, d + 0.5, n - d + 0.5))
        observed = d / n
    else:
        mean_pd = observed = binom_p = jeff_p = float("nan")
    return {
        "n": n,
        "defaults": d,
        "observed_rate": observed,
        "mean_pd": mean_pd,
        "binomial_p": binom_p,
        "jeffreys_p": jeff_p,
        "traffic_light": _traffic_light(jeff_p, amber_p, red_p),
    }


def grade_table(
    y: Any,
    prob_default: Any,
    grades: Any,
    scale: MasterScale,
    *,
    amber_p: float = 0.05,
    red_p: float = 0.01,
) -> pd.DataFrame:
    """Per grade: counts, observed vs predicted default rate, binomial and Jeffreys tests, traffic light.

    Columns: ``grade, pd_min, pd_max`` and those of :func:`default_rate_test`, per grade. Every grade of
    the scale has a row (``n = 0`` rows have NaN tests and light ``n/a``).
    """
    yy = _binary(y)
    p = _scores(prob_default, len(yy), "prob_default")
    g = np.asarray(grades).astype(str)
    if g.shape[0] != len(yy):
        raise DataValidationError(f"has {g.shape[0]} values for {len(yy)} outcomes", field="grades")
    rows = []
    for label, lo, hi in grade_bounds(scale):
        mask = g == label
        rows.append(
            {"grade": label, "pd_min": lo, "pd_max": hi,
             **default_rate_test(yy[mask], p[mask], amber_p=amber_p, red_p=red_p)}
        )  # fmt: skip
    unknown = sorted(set(np.unique(g)) - set(scale.labels))
    if unknown:
        raise DataValidationError(
            f"grades {unknown} are not on the master scale", field="grades", value=unknown[0]
        )
    return pd.DataFrame(rows)


def _psi_bins(reference: np.ndarray, bins: int) -> np.ndarray:
    finite = reference[np.isfinite(reference)]
    if finite.size == 0:
        return np.array([], dtype="float64")
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
    return edges


def _shares(values: np.ndarray, edges: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Shares of the bins (−∞, e1], (e1, e2], …, (ek, ∞) and, last, of missing values: a value tied with an
    edge falls in the bin below it, so that values above a point mass (a feature that is 0 for most
    training rows) are told apart from it. ``weights``: each value's weight (default 1)."""
    missing = ~np.isfinite(values)
    idx = np.searchsorted(edges, values[~missing], side="left")
    if weights is None:
        counts = np.append(np.bincount(idx, minlength=len(edges) + 1).astype(float), missing.sum())
        return counts / max(len(values), 1)
    counts = np.append(
        np.bincount(idx, weights=weights[~missing], minlength=len(edges) + 1), weights[missing].sum()
    )
    return counts / max(float(weights.sum()), _EPS)


def psi(expected: Any, actual: Any, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (reference quantile bins; NaN a bin).

    PSI = Σ (a_i − e_i) · ln(a_i / e_i), shares floored at 1e-6.

    Examples:
        >>> x = np.arange(1000.0)
        >>> psi(x, x)
        0.0
    """
    e = np.asarray(expected, dtype="float64").ravel()
    a = np.asarray(actual, dtype="float64").ravel()
    edges = _psi_bins(e, bins)
    pe = np.clip(_shares(e, edges), _EPS, None)
    pa = np.clip(_shares(a, edges), _EPS, None)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def reference_distribution(values: Any, bins: int = 10, weights: Any = None) -> dict[str, Any]:
    """What a later PSI needs of a sample, without the sample: its quantile bin edges, the share of rows in
    each bin (the last share: missing values; weighted by ``weights`` when given) and its row count.

    Examples:
        >>> ref = reference_distribution(np.arange(100.0), bins=4)
        >>> ref["edges"], ref["shares"], ref["n"]
        ([24.75, 49.5, 74.25], [0.25, 0.25, 0.25, 0.25, 0.0], 100)
    """
    v = np.asarray(values, dtype="float64").ravel()
    edges = _psi_bins(v, bins)
    w = None if weights is None else np.asarray(weights, dtype="float64").ravel()
    shares = _shares(v, edges, w)
    return {"edges": edges.tolist(), "shares": shares.tolist(), "n": int(v.size)}


def monitoring_reference(
    prob_default: Any, grades: Any, X: pd.DataFrame, *, bins: int = 10, weights: Any = None
) -> dict[str, Any]:
    """What monitoring compares production with, kept at training time so that it never needs the
    training data: the floored PD's and each feature's :func:`reference_distribution`, and the share of
    each grade (``weights``: the training rows' weights, so an applicant entered twice by reject inference
    counts once)."""
    w = None if weights is None else np.asarray(weights, dtype="float64")
    g = pd.Series(np.asarray(grades).astype(str))
    grade_shares = pd.Series(w if w is not None else np.ones(len(g))).groupby(g.to_numpy()).sum()
    return {
        "rows": len(X),
        "bins": bins,
        "prob_default": reference_distribution(prob_default, bins, w),
        "features": {
            c: reference_distribution(X[c].to_numpy(dtype="float64", na_value=np.nan), bins, w)
            for c in X.columns
        },
        "grades": {str(k): float(v) for k, v in (grade_shares / grade_shares.sum()).items()},
    }


def psi_against(reference: Mapping[str, Any], values: Any) -> float:
    """PSI of ``values`` against a stored :func:`reference_distribution` — the same figure as :func:`psi`
    of the sample the reference was made from.

    Examples:
        >>> x = np.random.default_rng(0).normal(size=500)
        >>> y = np.random.default_rng(1).normal(0.3, 1.0, size=400)
        >>> psi_against(reference_distribution(x), y) == psi(x, y)
        True
    """
    edges = np.asarray(reference["edges"], dtype="float64")
    pe = np.clip(np.asarray(reference["shares"], dtype="float64"), _EPS, None)
    pa = np.clip(_shares(np.asarray(values, dtype="float64").ravel(), edges), _EPS, None)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def psi_p_value(value: float, n_reference: int, n_actual: int, n_bins: int) -> float:
    """How likely a PSI at least this large is when nothing changed.

    Under no change, PSI ≈ (1/n + 1/m) · χ² with ``n_bins − 1`` degrees of freedom (``n``, ``m`` the two
    sample sizes; ``n_bins`` the bins the reference fills). With 10 bins and 100 rows a window, unchanged
    data cross the fixed 0.10 band about a third of the time; at 1,000 rows the same PSI is significant.

    Examples:
        >>> round(psi_p_value(0.10, 100_000, 100, 10), 2), psi_p_value(0.10, 100_000, 1_000, 10) < 1e-10
        (0.35, True)
    """
    if n_reference < 1 or n_actual < 1:
        return float("nan")
    scale = 1.0 / n_reference + 1.0 / n_actual
    return float(stats.chi2.sf(value / scale, df=max(int(n_bins) - 1, 1)))


def csi_table(X_train: pd.DataFrame, X_oot: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Characteristic stability index per feature (PSI of each column), in column order.

    Columns: ``feature, csi, missing_train, missing_oot``.
    """
    missing = [c for c in X_train.columns if c not in X_oot.columns]
    if missing:
        raise DataValidationError(f"OOT frame lacks feature(s) {missing}", field=missing[0])
    rows = []
    for col in X_train.columns:
        tr = X_train[col].to_numpy(dtype="float64", na_value=np.nan)
        oo = X_oot[col].to_numpy(dtype="float64", na_value=np.nan)
        rows.append(
            {
                "feature": col,
                "csi": psi(tr, oo, bins),
                "missing_train": float(np.mean(~np.isfinite(tr))) if len(tr) else float("nan"),
                "missing_oot": float(np.mean(~np.isfinite(oo))) if len(oo) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def validation_pack(
    y: Any,
    prob_default: Any,
    grades: Any,
    scale: MasterScale,
    *,
    config: ValidationConfig | None = None,
    train_prob_default: Any = None,
    X_train: pd.DataFrame | None = None,
    X_oot: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Every validation measure of one cohort (normally the out-of-time test).

    Args:
        y: observed defaults (0/1).
        prob_default: the model's PD for the same rows.
        grades: their grades on ``scale``.
        scale: the master scale.
        config: thresholds (defaults of :class:`ValidationConfig` when omitted).
        train_prob_default: PDs of the training population, for the score PSI.
        X_train: training features, for the CSI table.
        X_oot: the same features on this cohort.

    Returns:
        ``{"metrics": {name: float}, "grade_table": DataFrame, "calibration_table": DataFrame,
        "csi_table": DataFrame | None}``. ``metrics`` is flat (MLflow-ready): ``n, defaults, default_rate,
        mean_pd, auc, auc_se, auc_ci_low, auc_ci_high, gini, ks, brier, ece, hl_statistic, hl_df,
        hl_p_value, grades_red, grades_amber, score_psi`` (if ``train_prob_default``), ``csi_max``
        (if the frames are given).
    """
    cfg = config or ValidationConfig()
    yy = _binary(y)
    p = _scores(prob_default, len(yy), "prob_default")
    metrics: dict[str, float] = {
        "n": float(len(yy)),
        "defaults": float(yy.sum()),
        "default_rate": float(yy.mean()),
        "mean_pd": float(p.mean()),
    }
    metrics.update(auc_with_ci(yy, p, cfg.ci_level))
    metrics["gini"] = 2.0 * metrics["auc"] - 1.0
    metrics["ks"] = ks_statistic(yy, p)
    metrics["brier"] = brier(yy, p)
    metrics["ece"] = expected_calibration_error(yy, p, cfg.ece_bins)
    metrics.update(hosmer_lemeshow(yy, p, cfg.hl_groups))
    table = grade_table(yy, p, grades, scale, amber_p=cfg.amber_p, red_p=cfg.red_p)
    metrics["grades_red"] = float((table["traffic_light"] == "red").sum())
    metrics["grades_amber"] = float((table["traffic_light"] == "amber").sum())
    if train_prob_default is not None:
        metrics["score_psi"] = psi(train_prob_default, p, cfg.psi_bins)
    csi = None
    if X_train is not None and X_oot is not None:
        csi = csi_table(X_train, X_oot, cfg.psi_bins)
        metrics["csi_max"] = float(csi["csi"].max()) if len(csi) else 0.0
    return {
        "metrics": metrics,
        "grade_table": table,
        "calibration_table": calibration_table(yy, p, cfg.ece_bins),
        "csi_table": csi,
    }
