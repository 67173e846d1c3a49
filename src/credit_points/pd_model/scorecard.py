"""The challenger: a WoE-binned logistic scorecard (optbinning monotonic bins + logistic regression).

Bins are found by optbinning's ``OptimalBinning`` (monotonic event rate, minimum bin size); the WoE of each
bin, the missing bin and unseen categories are then held in plain tables, and every prediction is a pure
numpy lookup in those tables, so the fitted scorecard is a JSON-safe dict (``to_dict``/``from_dict``).
WoE here is ``ln(bad share / good share)``: higher is riskier, so coefficients are positive; variables
whose coefficient turns negative (collinearity) are dropped and the regression refitted.

Points: ``points = offset − factor · log-odds(default)``, ``factor = pdo / ln 2``,
``offset = base_score − factor · ln(base_odds)`` (``base_odds`` good:bad at ``base_score``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from optbinning import OptimalBinning
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from credit_points.exceptions import ModelError
from credit_points.pd_model.target import (
    LogOddsClassifierMixin,
    check_sample_weight,
    encode_binary_target,
    fitted_float_matrix,
    json_params,
    params_from_json,
)

SERIAL_FORMAT = "credit-points/woe-scorecard"
_INT_TUPLES = ("categorical_features", "monotone_constraints")


def _woe(bad: np.ndarray, good: np.ndarray, total_bad: float, total_good: float) -> np.ndarray:
    """WoE with a half-count guard for empty cells: ln((bad_i / B) / (good_i / G))."""
    b = np.where((bad == 0) | (good == 0), bad + 0.5, bad)
    g = np.where((bad == 0) | (good == 0), good + 0.5, good)
    return np.log((b / total_bad) / (g / total_good))


class WoEScorecard(LogOddsClassifierMixin, ClassifierMixin, BaseEstimator):
    """WoE + logistic regression scorecard with monotonic bins and PDO points scaling.

    Args:
        max_n_bins: most bins per variable.
        min_bin_size: smallest bin, as a share of the rows.
        monotonic_trend: optbinning's trend for numeric variables (``auto_asc_desc``, ``ascending`` ...).
        min_iv: variables below this information value are left out of the regression.
        C: inverse L2 strength of the logistic regression.
        categorical_features: column indices binned as categories (values are category codes).
        monotone_constraints: -1/0/+1 per column; +1 forces an ascending default rate over the bins, -1 a
            descending one (with non-negative coefficients the log-odds then move the same way), 0 uses
            ``monotonic_trend``.
        binning_sample: bin edges are searched on at most this many rows (a seeded random sample; the WoE
            tables and the regression always use every row); ``None`` uses all rows.
        random_state: seed of that sample.
        pdo, base_score, base_odds: points scaling.

    Fitted attributes:
        tables_: per variable ``{"kind", "splits" | "categories", "woe", "woe_missing", "woe_unknown", "iv"}``;
        coef_, intercept_, classes_, n_features_in_, selected_ (indices with a non-zero coefficient).

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(2000, 2))
        >>> y = (rng.random(2000) < 1 / (1 + np.exp(2 - X[:, 0]))).astype(int)
        >>> sc = WoEScorecard().fit(X, y)
        >>> contrib, base = sc.contributions(X[:3])
        >>> bool(np.allclose(base + contrib.sum(axis=1), sc.raw_score(X[:3])))
        True
    """

    def __init__(
        self,
        *,
        max_n_bins: int = 8,
        min_bin_size: float = 0.05,
        monotonic_trend: str = "auto_asc_desc",
        min_iv: float = 0.02,
        C: float = 1.0,
        categorical_features: tuple[int, ...] | None = None,
        monotone_constraints: tuple[int, ...] | None = None,
        binning_sample: int | None = 20_000,
        random_state: int = 0,
        pdo: float = 20.0,
        base_score: float = 600.0,
        base_odds: float = 50.0,
    ) -> None:
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.monotonic_trend = monotonic_trend
        self.min_iv = min_iv
        self.C = C
        self.categorical_features = categorical_features
        self.monotone_constraints = monotone_constraints
        self.binning_sample = binning_sample
        self.random_state = random_state
        self.pdo = pdo
        self.base_score = base_score
        self.base_odds = base_odds

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> WoEScorecard:
        """A scorecard with the settings of ``PDModelConfig.scorecard``."""
        sc = config.scorecard
        params = {
            "max_n_bins": sc.max_n_bins,
            "min_bin_size": sc.min_bin_size,
            "monotonic_trend": sc.monotonic_trend,
            "min_iv": sc.min_iv,
            "C": sc.C,
            "pdo": sc.pdo,
            "base_score": sc.base_score,
            "base_odds": sc.base_odds,
        }
        params.update(overrides)
        return cls(**params)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> WoEScorecard:
        """Bin every variable, compute WoE tables, and fit the logistic regression on WoE.

        ``sample_weight`` (non-negative, one per row) weighs each row in the bin search, the WoE counts and
        the regression: a row of weight 2 counts as two rows.
        """
        X_arr, y_arr = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan", reset=True)
        self.classes_, y01 = encode_binary_target(y_arr)
        weight = check_sample_weight(sample_weight, len(y01), y01)
        cats = set(self.categorical_features or ())
        tables = []
        total_bad = float(y01.sum()) if weight is None else float((weight * y01).sum())
        total_good = float((len(y01) if weight is None else weight.sum()) - total_bad)
        mono = (
            list(self.monotone_constraints) if self.monotone_constraints is not None else [0] * X_arr.shape[1]
        )
        if len(mono) != X_arr.shape[1]:
            raise ValueError(f"monotone_constraints has {len(mono)} entries for {X_arr.shape[1]} features")
        trends = {1: "ascending", -1: "descending", 0: self.monotonic_trend}
        for j in range(X_arr.shape[1]):
            tables.append(
                self._fit_table(
                    X_arr[:, j], y01, j in cats, total_bad, total_good, trends[int(mono[j])], weight=weight
                )
            )
        self.tables_ = tables
        W = self._woe_matrix(X_arr)
        candidates = [j for j, t in enumerate(tables) if t["iv"] >= self.min_iv]
        if not candidates:
            candidates = [int(np.argmax([t["iv"] for t in tables]))]
        coef = np.zeros(X_arr.shape[1])
        intercept = float(np.log(total_bad / total_good))
        for _ in range(X_arr.shape[1] + 1):
            lr = LogisticRegression(C=self.C, max_iter=1000, solver="newton-cholesky")
            lr.fit(W[:, candidates], y01, sample_weight=weight)
            negative = [c for c, b in zip(candidates, lr.coef_[0], strict=True) if b < 0]
            if not negative or len(candidates) == 1:
                coef[:] = 0.0
                coef[candidates] = np.maximum(lr.coef_[0], 0.0)
                intercept = float(lr.intercept_[0])
                break
            candidates = [c for c in candidates if c not in negative]
        self.coef_ = coef
        self.intercept_ = intercept
        self.selected_ = [int(j) for j in np.flatnonzero(coef)]
        return self

    def _fit_table(
        self,
        x: np.ndarray,
        y01: np.ndarray,
        categorical: bool,
        tb: float,
        tg: float,
        trend: str,
        sample: np.ndarray | None = None,
        weight: np.ndarray | None = None,
    ) -> dict[str, Any]:
        missing = ~np.isfinite(x)
        clean_x, clean_y = x[~missing], y01[~missing]
        clean_w = None if weight is None else weight[~missing]
        if sample is not None:
            xs, ys = x[sample], y01[sample]
            keep = np.isfinite(xs)
            search_x, search_y = xs[keep], ys[keep]
            search_w = None if weight is None else weight[sample][keep]
        else:
            search_x, search_y, search_w = clean_x, clean_y, clean_w
        table: dict[str, Any] = {"kind": "categorical" if categorical else "numerical"}
        splits: Any = []
        if search_x.size and np.unique(search_x).size > 1 and 0 < search_y.sum() < search_y.size:
            ob = OptimalBinning(
                dtype="categorical" if categorical else "numerical",
                max_n_bins=self.max_n_bins,
                min_bin_size=self.min_bin_size,
                monotonic_trend=None if categorical else trend,
                solver="cp",
            )
            ob.fit(
                search_x.astype(object) if categorical else search_x,
                search_y.astype(int),
                sample_weight=search_w,
            )
            splits = ob.splits
        if categorical:
            categories = [float(v) for group in splits for v in np.asarray(group, dtype="float64")]
            bins = [i for i, group in enumerate(splits) for _ in np.asarray(group)]
            if not categories:
                categories = sorted({float(v) for v in np.unique(clean_x)})
                bins = [0] * len(categories)
            table["categories"] = categories
            table["category_bins"] = bins
            n_bins = max(bins) + 1 if bins else 1
            idx = self._cat_index(clean_x, np.asarray(categories), np.asarray(bins, dtype=int))
            idx = np.where(idx < 0, 0, idx)
        else:
            table["splits"] = [float(s) for s in np.asarray(splits, dtype="float64")]
            n_bins = len(table["splits"]) + 1
            idx = np.digitize(clean_x, np.asarray(table["splits"]), right=False)
        if clean_w is None:
            bad = np.bincount(idx, weights=clean_y, minlength=n_bins)
            cnt = np.bincount(idx, minlength=n_bins).astype(float)
            m_bad = float(y01[missing].sum())
            m_cnt = float(missing.sum())
        else:
            bad = np.bincount(idx, weights=clean_y * clean_w, minlength=n_bins)
            cnt = np.bincount(idx, weights=clean_w, minlength=n_bins)
            m_bad = float((y01[missing] * weight[missing]).sum())  # type: ignore[index]
            m_cnt = float(weight[missing].sum())  # type: ignore[index]
        good = cnt - bad
        woe = _woe(bad, good, tb, tg) if tb > 0 and tg > 0 else np.zeros(n_bins)
        woe = np.where(cnt > 0, woe, 0.0)
        if clean_w is not None and not categorical and trend in ("ascending", "descending"):
            # the bin search's trend is on its own counts; with weights, merge adjacent bins until the
            # weighted WoE keeps the constraint's direction too
            sign = 1.0 if trend == "ascending" else -1.0
            edges = list(table["splits"])
            while edges and (np.diff(woe) * sign < 0).any():
                del edges[int(np.flatnonzero(np.diff(woe) * sign < 0)[0])]
                idx = np.digitize(clean_x, np.asarray(edges), right=False)
                bad = np.bincount(idx, weights=clean_y * clean_w, minlength=len(edges) + 1)
                cnt = np.bincount(idx, weights=clean_w, minlength=len(edges) + 1)
                good = cnt - bad
                woe = _woe(bad, good, tb, tg) if tb > 0 and tg > 0 else np.zeros(len(edges) + 1)
                woe = np.where(cnt > 0, woe, 0.0)
            table["splits"] = edges
        woe_missing = (
            float(_woe(np.array([m_bad]), np.array([m_cnt - m_bad]), tb, tg)[0]) if m_cnt > 0 else 0.0
        )
        shares_b = np.append(bad, m_bad) / tb
        shares_g = np.append(good, m_cnt - m_bad) / tg
        iv = float(np.sum((shares_b - shares_g) * np.append(woe, woe_missing)))
        table.update({"woe": woe.tolist(), "woe_missing": woe_missing, "woe_unknown": 0.0, "iv": iv})
        return table

    @staticmethod
    def _cat_index(x: np.ndarray, categories: np.ndarray, bins: np.ndarray) -> np.ndarray:
        if categories.size == 0:
            return np.full(x.shape, -1, dtype=int)
        order = np.argsort(categories)
        sorted_c = categories[order]
        pos = np.clip(np.searchsorted(sorted_c, x), 0, len(sorted_c) - 1)
        hit = sorted_c[pos] == x
        return np.where(hit, bins[order][pos], -1)

    # ------------------------------------------------------------------------------------- predict
    def _woe_matrix(self, X: np.ndarray) -> np.ndarray:
        W = np.empty(X.shape, dtype="float64")
        for j, t in enumerate(self.tables_):
            x = X[:, j]
            missing = ~np.isfinite(x)
            woe = np.asarray(t["woe"], dtype="float64")
            if t["kind"] == "categorical":
                idx = self._cat_index(
                    x, np.asarray(t["categories"], dtype="float64"), np.asarray(t["category_bins"], dtype=int)
                )
                col = np.where(idx >= 0, woe[np.clip(idx, 0, len(woe) - 1)], t["woe_unknown"])
            else:
                col = woe[
                    np.digitize(
                        np.where(missing, 0.0, x), np.asarray(t["splits"], dtype="float64"), right=False
                    )
                ]
            W[:, j] = np.where(missing, t["woe_missing"], col)
        return W

    def _matrix(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "tables_")
        return fitted_float_matrix(self, X)

    def woe_transform(self, X: Any) -> np.ndarray:
        """The WoE of every cell (``n × k``)."""
        return self._woe_matrix(self._matrix(X))

    def contributions(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per-variable log-odds contributions ``coef_j · WoE_j`` and the base (the intercept)."""
        W = self.woe_transform(X)
        return W * self.coef_, np.full(W.shape[0], self.intercept_)

    def raw_score(self, X: Any) -> np.ndarray:
        """Log-odds of default: ``Σ_j coef_j · WoE_j`` (in column order) plus the intercept.

        Summed column by column rather than as a matrix product: BLAS rounds a product differently for one
        row than for many, and a firm must get the same PD, to the bit, alone or in any batch.
        """
        W = self.woe_transform(X)
        out = np.zeros(W.shape[0])
        for j, coef in enumerate(np.asarray(self.coef_, dtype="float64")):
            out += W[:, j] * coef
        return out + self.intercept_

    @property
    def factor(self) -> float:
        """Points per unit of log-odds: ``pdo / ln 2``."""
        return float(self.pdo / np.log(2.0))

    @property
    def offset(self) -> float:
        """``base_score − factor · ln(base_odds)``."""
        return float(self.base_score - self.factor * np.log(self.base_odds))

    def score(self, X: Any, y: Any = None) -> Any:  # type: ignore[override]
        """With ``y``: accuracy (sklearn contract). Without: scorecard points per row (higher is safer)."""
        if y is not None:
            return super().score(X, y)
        return self.offset - self.factor * self.raw_score(X)

    def points_table(self, feature_names: list[str] | None = None) -> pd.DataFrame:
        """Points of every bin: ``feature, bin, woe, points`` (the base points spread evenly).

        Each row's total points equal :meth:`score`.
        """
        check_is_fitted(self, "tables_")
        names = feature_names or [f"x{j}" for j in range(self.n_features_in_)]
        k = max(len(self.selected_), 1)
        base_points = (self.offset - self.factor * self.intercept_) / k
        rows = []
        for j in self.selected_:
            t = self.tables_[j]
            if t["kind"] == "numerical":
                edges = [-np.inf, *t["splits"], np.inf]
                labels = [f"[{edges[i]:.6g}, {edges[i + 1]:.6g})" for i in range(len(edges) - 1)]
            else:
                labels = [
                    ",".join(
                        f"{c:g}" for c, b in zip(t["categories"], t["category_bins"], strict=True) if b == i
                    )
                    for i in range(len(t["woe"]))
                ]
            for label, w in [*zip(labels, t["woe"], strict=True), ("missing", t["woe_missing"])]:
                rows.append(
                    {
                        "feature": names[j],
                        "bin": label,
                        "woe": w,
                        "points": base_points - self.factor * self.coef_[j] * w,
                    }
                )
        return pd.DataFrame(rows)

    # ---------------------------------------------------------------------------------- serialise
    def to_params(self) -> dict[str, Any]:
        """The settings as JSON-safe values (:meth:`from_params` rebuilds the unfitted scorecard)."""
        return json_params(self.get_params(), ints=_INT_TUPLES)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> WoEScorecard:
        """The unfitted scorecard of :meth:`to_params` output."""
        return cls(**params_from_json(params, _INT_TUPLES))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: bin tables, coefficients, classes, params."""
        check_is_fitted(self, "tables_")
        return {
            "format": SERIAL_FORMAT,
            "format_version": 1,
            "params": self.to_params(),
            "tables": self.tables_,
            "coef": [float(c) for c in self.coef_],
            "intercept": float(self.intercept_),
            "classes": self.classes_.tolist(),
            "n_features": int(self.n_features_in_),
            "feature_names": [str(n) for n in getattr(self, "feature_names_in_", [])] or None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WoEScorecard:
        """Rebuild a fitted scorecard from :meth:`to_dict` output."""
        if data.get("format") != SERIAL_FORMAT:
            raise ModelError(f"not a serialised WoEScorecard: format {data.get('format')!r}")
        model = cls.from_params(data["params"])
        model.tables_ = [dict(t) for t in data["tables"]]
        model.coef_ = np.asarray(data["coef"], dtype="float64")
        model.intercept_ = float(data["intercept"])
        model.classes_ = np.asarray(data["classes"])
        model.n_features_in_ = int(data["n_features"])
        model.selected_ = [int(j) for j in np.flatnonzero(model.coef_)]
        if data.get("feature_names"):
            model.feature_names_in_ = np.asarray(data["feature_names"], dtype=object)
        return model
