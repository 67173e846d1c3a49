"""The linear candidate: a sign-constrained, L2-regularised logistic regression on transformed features.

Where a few strong drivers act roughly linearly on the log-odds (or many weak ones add up), binning them
into WoE steps or approximating them with trees loses a little; a plain logistic regression on
standardised numerics and one-hot categoricals does not. ``LinearPD`` is that model, kept bankable:

- **Transforms, fitted on the training rows only.** A numeric column is median-imputed, with a 0/1 missing
  indicator when the training rows had a gap, then either ``linear`` — standardised — or ``spline`` — a
  piecewise-linear spline on quantile knots: one ramp column per segment between consecutive knots,
  ``clip((x − kᵢ) / (kᵢ₊₁ − kᵢ), 0, 1)``, so the feature's effect is continuous, bends where the data say
  (a skewed amount acts like its logarithm) and stays flat beyond the outermost knots. A categorical
  column (integer codes, as the booster and the scorecard take them): one 0/1 column per code seen in
  training; an unseen code or a gap sets none of them.
- **Monotone where the configuration says so.** A feature constrained ``+1`` (PD never decreases as it
  grows) gets coefficients ``>= 0`` on its standardised value or on every ramp (each ramp is
  non-decreasing in the feature, so their non-negative sum is too), ``-1`` coefficients ``<= 0``: the
  regression is solved with those bounds (L-BFGS-B), so the constraint holds exactly, not by pruning.
- **Regularisation and transform chosen out of fold.** ``C`` (sklearn's convention: the inverse L2
  strength, intercept not penalised) and the transform are the pair of ``C_grid`` × ``transforms`` with
  the best weighted out-of-fold log-loss over ``inner_folds`` stratified folds of the training rows; the
  model is then refitted on all of them. The candidates are solved to a screening tolerance along the
  ``C`` path, the chosen one to full precision.
- **Explanations exactly additive.** ``contributions`` gives, per original feature, the sum over its
  transformed columns of ``coef · (t(x) − mean t)``, and a base of ``intercept + coef · mean t``: base plus
  contributions is the raw score. Every score is accumulated column by column in a fixed order, so a row
  scores bit-identically alone or in a batch.
- **JSON, no pickle.** ``to_dict`` / ``from_dict`` hold the medians, scales, category codes and
  coefficients; a reloaded model predicts bit-identically.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted, validate_data

from credit_points.exceptions import ModelError
from credit_points.pd_model.calibration import PRECISE, SCREENING, fit_logistic, sigmoid
from credit_points.pd_model.target import (
    LogOddsClassifierMixin,
    check_sample_weight,
    encode_binary_target,
    fitted_float_matrix,
    json_params,
    params_from_json,
)

SERIAL_FORMAT = "credit-points/linear-pd"
SERIAL_VERSION = 1
_INT_TUPLES = ("monotone_constraints", "categorical_features")
#: the transforms of a numeric feature the selection may choose
TRANSFORMS = ("linear", "spline")


class LinearPD(LogOddsClassifierMixin, ClassifierMixin, BaseEstimator):
    """Sign-constrained logistic regression on standardised numerics and one-hot categoricals.

    Args:
        monotone_constraints: one of -1/0/+1 per feature (+1: PD never decreases as the feature grows).
        categorical_features: column indices holding category codes (one-hot encoded).
        C_grid: candidate inverse L2 strengths; one value means no selection.
        transforms: candidate transforms of the numeric features, ``linear`` and/or ``spline``.
        spline_knots: segments of the spline (between quantiles of the training values).
        inner_folds: stratified folds of the training rows that choose ``C``.
        random_state: seed of the folds.

    Fitted attributes:
        C_ and transform_ (chosen), selection_ (``{C, transform, log_loss}`` out of fold), intercept_,
        coef_ (one per transformed column), columns_ (``(feature, kind, value)`` per transformed column:
        ``value``, ``missing``, ``category`` (value: the code) or ``ramp`` (value: the segment)), medians_,
        means_, scales_ (numeric features; NaN for categoricals), categories_ (codes per categorical
        feature), knots_ (per splined feature), centre_ (training mean of each transformed column).

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(800, 2))
        >>> y = (rng.random(800) < 1 / (1 + np.exp(-(X[:, 0] - 2)))).astype(int)
        >>> m = LinearPD(monotone_constraints=(1, -1)).fit(X, y)
        >>> bool(m.coef_[0] > 0 and m.coef_[1] <= 0)
        True
        >>> contrib, base = m.contributions(X[:3])
        >>> bool(np.allclose(base + contrib.sum(axis=1), m.raw_score(X[:3]), atol=1e-12))
        True
    """

    def __init__(
        self,
        *,
        monotone_constraints: tuple[int, ...] | None = None,
        categorical_features: tuple[int, ...] | None = None,
        C_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0),
        transforms: tuple[str, ...] = ("linear",),
        spline_knots: int = 5,
        inner_folds: int = 3,
        random_state: int = 0,
    ) -> None:
        self.monotone_constraints = monotone_constraints
        self.categorical_features = categorical_features
        self.C_grid = C_grid
        self.transforms = transforms
        self.spline_knots = spline_knots
        self.inner_folds = inner_folds
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    # ----------------------------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LinearPD:
        """Choose ``C`` and the transform out of fold, then fit both on every training row."""
        X_arr, y01, w = self._checked(X, y, sample_weight)
        candidates = self._candidates()
        if len(candidates) == 1:
            return self._fit_chosen(X_arr, y01, w, *candidates[0], selection=[])
        folds = StratifiedKFold(n_splits=self.inner_folds, shuffle=True, random_state=self.random_state)
        oof = {c: np.zeros(len(y01)) for c in candidates}
        for tr, va in folds.split(X_arr, y01):
            for c, raw in self._path(X_arr[tr], y01[tr], w[tr], X_arr[va]).items():
                oof[c][va] = raw
        table = self.selection_table(oof, y01, w)
        best = min(table, key=lambda r: r["log_loss"])
        return self._fit_chosen(X_arr, y01, w, best["C"], best.get("transform", "linear"), selection=table)

    def candidate_scores(
        self, X: Any, y: Any, X_eval: Any, sample_weight: Any = None
    ) -> dict[tuple[float, str], np.ndarray]:
        """Log-odds on ``X_eval`` of every ``(C, transform)`` candidate fitted on ``X``, ``y``.

        What a caller's own folds need to choose the candidate out of fold (:meth:`selection_table`, then
        :meth:`fit_candidate`) instead of the nested folds of :meth:`fit`.
        """
        X_arr, y01, w = self._checked(X, y, sample_weight)
        return self._path(X_arr, y01, w, fitted_float_matrix(self, X_eval))

    def selection_table(
        self, oof: dict[tuple[float, str], np.ndarray], y01: np.ndarray, weight: np.ndarray | None = None
    ) -> list[dict[str, Any]]:
        """``{C, [transform,] log_loss}`` of each candidate's out-of-fold log-odds ``oof``."""
        w = np.ones(len(y01)) if weight is None else np.asarray(weight, dtype="float64")
        rows: list[dict[str, Any]] = []
        for (C, shape), raw in oof.items():
            p = np.clip(sigmoid(raw), 1e-12, 1 - 1e-12)
            loss = float(w @ -(y01 * np.log(p) + (1 - y01) * np.log(1 - p))) / float(w.sum())
            row: dict[str, Any] = {"C": C, "log_loss": loss}
            if list(self.transforms) != ["linear"]:  # as before the spline: the same record
                row["transform"] = shape
            rows.append(row)
        return rows

    def fit_candidate(
        self, X: Any, y: Any, C: float, transform: str, sample_weight: Any = None, selection: Any = None
    ) -> LinearPD:
        """Fit the candidate ``(C, transform)`` on every row; ``selection`` is the table that chose it."""
        X_arr, y01, w = self._checked(X, y, sample_weight)
        return self._fit_chosen(X_arr, y01, w, float(C), str(transform), selection=list(selection or []))

    def _checked(self, X: Any, y: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X_arr, y_arr = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan", reset=True)
        self.classes_, y01 = encode_binary_target(y_arr)
        weight = check_sample_weight(sample_weight, len(y01), y01)
        mono = self._mono(X_arr.shape[1])
        if len(mono) != X_arr.shape[1]:
            raise ValueError(f"monotone_constraints has {len(mono)} entries for {X_arr.shape[1]} features")
        self._candidates()  # the settings, checked before any work
        return X_arr, y01, np.ones(len(y01)) if weight is None else weight

    def _mono(self, k: int) -> list[int]:
        return list(self.monotone_constraints) if self.monotone_constraints is not None else [0] * k

    def _candidates(self) -> list[tuple[float, str]]:
        grid = [float(c) for c in self.C_grid]
        if not grid or min(grid) <= 0:
            raise ValueError(f"C_grid must hold positive values; got {self.C_grid!r}")
        shapes = [str(t) for t in self.transforms]
        if not shapes or set(shapes) - set(TRANSFORMS):
            raise ValueError(f"transforms must be among {TRANSFORMS}; got {self.transforms!r}")
        if int(self.spline_knots) < 2:
            raise ValueError(f"spline_knots must be at least 2; got {self.spline_knots!r}")
        return [(C, t) for t in shapes for C in grid]

    def _path(
        self, X: np.ndarray, y01: np.ndarray, w: np.ndarray, X_eval: np.ndarray
    ) -> dict[tuple[float, str], np.ndarray]:
        """Every candidate fitted on ``X`` and scored on ``X_eval``: one prepared design per transform, each
        ``C`` (from the most regularised) started from the previous solution."""
        mono = self._mono(X.shape[1])
        out: dict[tuple[float, str], np.ndarray] = {}
        for shape in dict.fromkeys(str(t) for t in self.transforms):
            model, Z, bounds = self._prepared(X, w, mono, shape)
            Z_eval = model._design(X_eval)  # one design for the whole path (scores to choose with only)
            start = None
            for C in sorted(float(c) for c in self.C_grid):
                model._solve(Z, y01, w, C, bounds, start, tolerance=SCREENING)
                start = np.append(model.intercept_, model.coef_)
                out[(C, shape)] = model.intercept_ + Z_eval @ model.coef_
        return {c: out[c] for c in self._candidates()}

    def _fit_chosen(
        self,
        X: np.ndarray,
        y01: np.ndarray,
        w: np.ndarray,
        C: float,
        shape: str,
        selection: list[dict[str, Any]],
    ) -> LinearPD:
        final, Z, bounds = self._prepared(X, w, self._mono(X.shape[1]), shape)
        final._solve(Z, y01, w, C, bounds)
        for name in ("C_", "transform_", "intercept_", "coef_", "columns_", "medians_", "means_", "scales_",
                     "categories_", "knots_", "centre_"):  # fmt: skip
            setattr(self, name, getattr(final, name))
        self.selection_ = selection
        return self

    def _prepared(
        self, X: np.ndarray, w: np.ndarray, mono: list[int], shape: str
    ) -> tuple[LinearPD, np.ndarray, list[tuple[float | None, float | None]]]:
        """A copy with the transforms of ``shape`` fitted on these rows, their design and coefficient bounds
        (:meth:`_solve` fits the regression)."""
        model = LinearPD(categorical_features=self.categorical_features)
        model.n_features_in_ = X.shape[1]
        cats = set(self.categorical_features or ())
        k = X.shape[1]
        model.medians_ = np.full(k, np.nan)
        model.means_ = np.full(k, np.nan)
        model.scales_ = np.full(k, np.nan)
        model.categories_ = {}
        model.knots_ = {}
        model.transform_ = shape
        columns: list[tuple[int, str, float]] = []
        bounds: list[tuple[float | None, float | None]] = []
        for j in range(k):
            x = X[:, j]
            present = ~np.isnan(x)
            if j in cats:
                codes = np.unique(x[present])
                model.categories_[j] = codes
                columns += [(j, "category", float(c)) for c in codes]
                bounds += [(None, None)] * len(codes)
                continue
            median = float(np.median(x[present])) if present.any() else 0.0
            filled = np.where(present, x, median)
            mean = float(np.average(filled, weights=w))
            scale = float(np.sqrt(np.average((filled - mean) ** 2, weights=w)))
            model.medians_[j], model.means_[j] = median, mean
            model.scales_[j] = scale if scale > 0 else 1.0
            sign = int(mono[j])
            bound = (0.0, None) if sign > 0 else (None, 0.0) if sign < 0 else (None, None)
            knots = (
                np.unique(np.quantile(x[present], np.linspace(0.0, 1.0, int(self.spline_knots) + 1)))
                if shape == "spline" and present.any()
                else np.zeros(0)
            )
            if len(knots) >= 3:  # two segments at least, else the ramp is the standardised value again
                model.knots_[j] = knots
                columns += [(j, "ramp", float(i)) for i in range(len(knots) - 1)]
                bounds += [bound] * (len(knots) - 1)
            else:
                columns.append((j, "value", 0.0))
                bounds.append(bound)
            if not present.all():
                columns.append((j, "missing", 0.0))
                bounds.append((None, None))
        model.columns_ = columns
        Z = model._design(X)
        model.centre_ = np.average(Z, axis=0, weights=w) if Z.shape[1] else np.zeros(0)
        return model, Z, bounds

    def _solve(
        self,
        Z: np.ndarray,
        y01: np.ndarray,
        w: np.ndarray,
        C: float,
        bounds: list[tuple[float | None, float | None]],
        start: np.ndarray | None = None,
        tolerance: tuple[float, float] = PRECISE,
    ) -> None:
        """Fit the regression with ``C`` on the prepared design ``Z``."""
        self.C_ = C
        self.intercept_, self.coef_ = fit_logistic(Z, y01, w, C, bounds, start, tolerance)

    # ------------------------------------------------------------------------------------- predict
    def _design(self, X: np.ndarray) -> np.ndarray:
        """The transformed columns of ``X`` (one per entry of ``columns_``)."""
        Z = np.empty((X.shape[0], len(self.columns_)))
        for c, (j, kind, value) in enumerate(self.columns_):
            x = X[:, j]
            if kind == "category":
                Z[:, c] = (x == value).astype("float64")
            elif kind == "missing":
                Z[:, c] = np.isnan(x).astype("float64")
            elif kind == "ramp":
                knots, i = self.knots_[j], int(value)
                filled = np.where(np.isnan(x), self.medians_[j], x)
                Z[:, c] = np.clip((filled - knots[i]) / (knots[i + 1] - knots[i]), 0.0, 1.0)
            else:
                Z[:, c] = (np.where(np.isnan(x), self.medians_[j], x) - self.means_[j]) / self.scales_[j]
        return Z

    def _matrix(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        return fitted_float_matrix(self, X)

    def _raw(self, X: np.ndarray) -> np.ndarray:
        contrib, base = self._contributions(X)
        # column by column in a fixed order: a row's score does not depend on the rows beside it
        out = base.copy()
        for j in range(contrib.shape[1]):
            out += contrib[:, j]
        return out

    def _contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = self._design(X)
        contrib = np.zeros((X.shape[0], self.n_features_in_))
        base_value = float(self.intercept_)
        for c, (j, _, _) in enumerate(self.columns_):
            contrib[:, j] += self.coef_[c] * (Z[:, c] - self.centre_[c])
            base_value += float(self.coef_[c] * self.centre_[c])
        return contrib, np.full(X.shape[0], base_value)

    def raw_score(self, X: Any) -> np.ndarray:
        """Log-odds of default."""
        return self._raw(self._matrix(X))

    def contributions(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature contributions in log-odds and the base: ``base + contrib.sum(axis=1) == raw_score``."""
        return self._contributions(self._matrix(X))

    # ----------------------------------------------------------------------------------- serialise
    def to_params(self) -> dict[str, Any]:
        """The settings as JSON-safe values (:meth:`from_params` rebuilds the unfitted model)."""
        params = json_params(self.get_params(), ints=_INT_TUPLES, floats=("C_grid",))
        params["transforms"] = [str(t) for t in self.transforms]
        if params["transforms"] == ["linear"] and self.spline_knots == 5:
            # as written before the spline transform: a model of that release reads and hashes the same
            del params["transforms"], params["spline_knots"]
        return params

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> LinearPD:
        """The unfitted model of :meth:`to_params` output."""
        return cls(**params_from_json(params, (*_INT_TUPLES, "C_grid", "transforms")))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the fitted model."""
        check_is_fitted(self, "coef_")

        def nums(values: np.ndarray) -> list[float | None]:
            return [None if np.isnan(v) else float(v) for v in values]

        return {
            "format": SERIAL_FORMAT,
            "format_version": SERIAL_VERSION,
            "params": self.to_params(),
            "n_features": int(self.n_features_in_),
            "classes": self.classes_.tolist(),
            "C": float(self.C_),
            **({"transform": self.transform_} if self.transform_ != "linear" else {}),
            "selection": list(self.selection_),
            "intercept": float(self.intercept_),
            "coef": [float(v) for v in self.coef_],
            "columns": [[int(j), kind, float(v)] for j, kind, v in self.columns_],
            "medians": nums(self.medians_),
            "means": nums(self.means_),
            "scales": nums(self.scales_),
            "categories": {str(j): [float(c) for c in codes] for j, codes in self.categories_.items()},
            **(
                {"knots": {str(j): [float(v) for v in k] for j, k in self.knots_.items()}}
                if self.knots_
                else {}
            ),
            "centre": [float(v) for v in self.centre_],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearPD:
        """Rebuild a fitted model from :meth:`to_dict` output (predicts bit-identically)."""
        if data.get("format") != SERIAL_FORMAT:
            raise ModelError(f"not a serialised LinearPD: format {data.get('format')!r}")
        if data.get("format_version") != SERIAL_VERSION:
            raise ModelError(f"unsupported LinearPD format_version {data.get('format_version')!r}")
        model = cls.from_params(data["params"])

        def arr(values: list[float | None]) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype="float64")

        model.n_features_in_ = int(data["n_features"])
        model.classes_ = np.asarray(data["classes"])
        model.C_ = float(data["C"])
        model.transform_ = str(data.get("transform", "linear"))
        model.selection_ = list(data.get("selection") or [])
        model.intercept_ = float(data["intercept"])
        model.coef_ = np.asarray(data["coef"], dtype="float64")
        model.columns_ = [(int(j), str(kind), float(v)) for j, kind, v in data["columns"]]
        model.medians_, model.means_, model.scales_ = (
            arr(data["medians"]),
            arr(data["means"]),
            arr(data["scales"]),
        )
        model.categories_ = {int(j): np.asarray(c, dtype="float64") for j, c in data["categories"].items()}
        model.knots_ = {int(j): np.asarray(k, dtype="float64") for j, k in (data.get("knots") or {}).items()}
        model.centre_ = np.asarray(data["centre"], dtype="float64")
        if len(model.coef_) != len(model.columns_) or len(model.centre_) != len(model.columns_):
            raise ModelError("LinearPD dict: coef, centre and columns differ in length")
        return model
