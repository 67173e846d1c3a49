"""PD model configuration (``configs/pd_model/*.yaml``): features, encodings, LightGBM, calibration, split, scale.

Every business number of the default-risk model lives here: the feature list with monotone constraints and
reason families, the fixed categorical maps, the LightGBM parameters and seeds, the out-of-time split, the
master scale (grades, PD bands, PD floor), the WoE-scorecard challenger and the model-selection settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_serializer, model_validator

from credit_points.config import StrictModel, VersionedConfig, load_config, resolve_config_path
from credit_points.expressions import compile_expression

#: Columns a feature may never read: outcomes and simulation truth (they are observed after ``as_of_date``).
FORBIDDEN_FEATURE_INPUTS: frozenset[str] = frozenset({"default_12m", "true_pd", "true_raw", "default_date"})


class FeatureSpec(StrictModel):
    """One model feature.

    Attributes:
        name: the feature (model column) name.
        source: a record or points column, or an expression over them (``credit_points.expressions``).
        monotone: +1 PD never decreases as the feature grows, -1 never increases, 0 unconstrained.
        encoding: name of a fixed map in ``encodings`` applied to the ``source`` column (categories).
        label_zh: Chinese label for reports.
        label_en: English label.
        reason_family: the reason-code family the feature's contribution maps to.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    source: str = Field(min_length=1)
    monotone: Literal[-1, 0, 1] = 0
    encoding: str | None = None
    label_zh: str
    label_en: str
    reason_family: str = Field(min_length=1)


class EncodingMap(StrictModel):
    """A fixed category → number map; a value outside it is an error, never silently NaN."""

    levels: dict[str, float]
    missing: Literal["nan", "error"] = "nan"


class LightGBMParams(StrictModel):
    """LightGBM parameters of the booster (native names where they exist)."""

    num_threads: int = Field(default=1, ge=1)
    deterministic: bool = True
    seed: int = 0
    num_leaves: int = Field(default=15, ge=2)
    max_depth: int = -1
    n_estimators: int = Field(default=300, ge=1)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    min_child_samples: int = Field(default=50, ge=1)
    subsample: float = Field(default=0.8, gt=0, le=1)
    subsample_freq: int = Field(default=1, ge=0)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    reg_lambda: float = Field(default=1.0, ge=0)
    reg_alpha: float = Field(default=0.0, ge=0)
    max_bin: int = Field(default=255, ge=2)
    early_stopping_rounds: int | None = Field(default=50, ge=1)


class CalibrationConfig(StrictModel):
    """Calibration of the booster margin: Platt scaling, ``raw = a * margin + b``."""

    method: Literal["platt"] = "platt"
    min_slope: float = Field(default=1e-3, gt=0)


class SplitConfig(StrictModel):
    """Out-of-time split of ``as_of_date`` cohorts: train (earliest), calibration, test (latest).

    ``mode: years`` puts the last ``test_periods`` calendar years in test and the ``calib_periods`` years
    before them in calibration; ``mode: quantiles`` cuts ``as_of_date`` at the given quantiles.
    """

    mode: Literal["years", "quantiles"] = "years"
    date_column: str = "as_of_date"
    firm_column: str = "firm_id"
    target: str = "default_12m"
    calib_periods: int = Field(default=1, ge=1)
    test_periods: int = Field(default=1, ge=1)
    calib_quantile: float = Field(default=0.6, gt=0, lt=1)
    test_quantile: float = Field(default=0.8, gt=0, lt=1)
    firm_split: Literal["holdout", "drop", "none"] = "holdout"
    test_firm_share: float = Field(default=0.3, gt=0, lt=1)
    seed: int = 0

    @model_validator(mode="after")
    def _quantiles_ordered(self) -> SplitConfig:
        if self.calib_quantile >= self.test_quantile:
            raise ValueError(
                f"calib_quantile must be below test_quantile; got {self.calib_quantile} >= {self.test_quantile}"
            )
        return self


class GradeBand(StrictModel):
    """One performing grade: PD up to (excluding) ``pd_max``."""

    grade: str = Field(min_length=1)
    pd_max: float = Field(gt=0, le=1)
    label_zh: str = ""
    label_en: str = ""


class MasterScale(StrictModel):
    """The master scale: performing grades by PD band, plus the default grade.

    Attributes:
        pd_floor: regulatory PD floor applied before grading (0.0003 = 0.03%).
        grades: performing grades in increasing PD; the last band must reach 1.0.
        default_grade: grade of obligors in default (PD = 1).
    """

    pd_floor: float = Field(default=0.0003, ge=0, lt=1)
    grades: tuple[GradeBand, ...] = Field(min_length=7)
    default_grade: str = "D"

    @model_validator(mode="after")
    def _bands_increase(self) -> MasterScale:
        uppers = [g.pd_max for g in self.grades]
        if any(b <= a for a, b in zip(uppers, uppers[1:], strict=False)):
            raise ValueError(f"grade pd_max must increase strictly; got {uppers}")
        if uppers[-1] != 1.0:
            raise ValueError(f"the last performing grade must reach pd_max 1.0; got {uppers[-1]}")
        labels = [g.grade for g in self.grades] + [self.default_grade]
        if len(set(labels)) != len(labels):
            raise ValueError(f"grade labels must be unique; got {labels}")
        return self

    @property
    def labels(self) -> list[str]:
        """Grade labels, best first, the default grade last."""
        return [g.grade for g in self.grades] + [self.default_grade]


class ScorecardConfig(StrictModel):
    """The WoE-logistic challenger: binning, regularisation and points scaling."""

    max_n_bins: int = Field(default=8, ge=2)
    min_bin_size: float = Field(default=0.05, gt=0, lt=0.5)
    monotonic_trend: str = "auto_asc_desc"
    min_iv: float = Field(default=0.02, ge=0)
    C: float = Field(default=1.0, gt=0)
    pdo: float = Field(default=20.0, gt=0)
    base_score: float = 600.0
    base_odds: float = Field(default=50.0, gt=0)


_LATER_SELECTION_FIELDS = ("linear", "linear_c_grid", "linear_transforms", "linear_spline_knots")


class SelectionConfig(StrictModel):
    """Model selection between the LightGBM classifier and the scorecard (or a blend of both), and
    optionally the linear candidate.

    The blend weight ``w`` of the booster in calibrated log-odds is chosen from ``weights`` by the
    out-of-fold ``metric`` over ``inner_folds`` stratified folds of the training data only.
    """

    weights: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    inner_folds: int = Field(default=3, ge=2)
    metric: Literal["log_loss", "brier", "auc"] = "log_loss"
    #: a third candidate, the sign-constrained logistic regression (``pd_model/linear.py``): the weights
    #: of booster and scorecard come from ``weights`` or from the non-negative logistic stack of the three
    #: out-of-fold log-odds, whichever scores best on ``metric``; the linear part takes the rest
    linear: bool = False
    #: its inverse L2 strengths, chosen out of fold
    linear_c_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
    #: the transforms of its numeric features it chooses between out of fold (``linear``: standardised;
    #: ``spline``: piecewise linear on quantile knots)
    linear_transforms: tuple[Literal["linear", "spline"], ...] = ("linear", "spline")
    #: the spline's segments
    linear_spline_knots: int = Field(default=5, ge=2)

    def linear_candidate(self, seed: int) -> Any:
        """The unfitted linear candidate these settings describe, or None when it is off."""
        if not self.linear:
            return None
        from credit_points.pd_model.linear import LinearPD

        return LinearPD(
            C_grid=tuple(self.linear_c_grid),
            transforms=tuple(self.linear_transforms),
            spline_knots=self.linear_spline_knots,
            inner_folds=self.inner_folds,
            random_state=seed,
        )

    @model_serializer(mode="wrap")
    def _omit_later_fields_at_their_defaults(self, handler: Any) -> Any:
        # the linear candidate came after versions were registered: left at its defaults it is not written,
        # so a configuration (and the hash every decision records) reads as it did before
        data = handler(self)
        if isinstance(data, dict):
            for name in _LATER_SELECTION_FIELDS:
                if getattr(self, name) == type(self).model_fields[name].default:
                    data.pop(name, None)
        return data

    @model_validator(mode="after")
    def _weights_in_unit_interval(self) -> SelectionConfig:
        bad = [w for w in self.weights if not 0.0 <= w <= 1.0]
        if bad or not self.weights:
            raise ValueError(f"selection weights must lie in [0, 1]; got {list(self.weights)}")
        return self


class ValidationConfig(StrictModel):
    """Thresholds of the validation pack."""

    ci_level: float = Field(default=0.95, gt=0, lt=1)
    ece_bins: int = Field(default=10, ge=2)
    hl_groups: int = Field(default=10, ge=3)
    psi_bins: int = Field(default=10, ge=2)
    amber_p: float = Field(default=0.05, gt=0, lt=1)
    red_p: float = Field(default=0.01, gt=0, lt=1)

    @model_validator(mode="after")
    def _red_below_amber(self) -> ValidationConfig:
        if self.red_p >= self.amber_p:
            raise ValueError(f"red_p must be below amber_p; got {self.red_p} >= {self.amber_p}")
        return self


class GenericDataConfig(StrictModel):
    """Settings of the model on a bank's own tabular data (``pd-cv``): no feature list, no fixed maps.

    Attributes:
        lightgbm: booster parameters (no monotone constraints on unknown columns; early stopping inside
            the inner selection folds picks the number of trees).
        numeric_parse_share: a text column is numeric when at least this share of its values parse.
        max_categories: most frequent categories kept per column (by training-fold frequency); the rest
            share one "other" code.
        bad_labels: target values read as "bad" (default) when ``--bad-value`` is not given
            (case-insensitive); otherwise 1 of a 0/1 target, else the minority class.
    """

    lightgbm: LightGBMParams = LightGBMParams(
        n_estimators=2000, learning_rate=0.02, num_leaves=8, min_child_samples=20, early_stopping_rounds=100
    )
    numeric_parse_share: float = Field(default=0.95, gt=0, le=1)
    max_categories: int = Field(default=100, ge=2)
    bad_labels: tuple[str, ...] = ("bad", "default", "defaulted", "charged off", "yes", "true", "y", "1")


class RejectInferenceConfig(StrictModel):
    """How a PD model learns from applicants without an outcome (``reject_inference`` of a PD config).

    A training setting: it changes which rows the model learns from, not how a decision is made, so it is
    recorded in the training run and the model card rather than in the decision's configuration hash.
    """

    method: Literal["none", "reweight", "augment", "parcel"] = "none"
    max_weight: float = Field(default=20.0, gt=1.0)
    parcel_bands: int = Field(default=10, ge=2)
    parcel_uplift: float = Field(default=1.5, ge=1.0)
    booking_model_rounds: int = Field(default=100, ge=1)


class PDModelConfig(VersionedConfig):
    """The whole PD model configuration (``kind: pd_model``)."""

    kind: Literal["pd_model"] = "pd_model"
    features: tuple[FeatureSpec, ...] = Field(min_length=1)
    encodings: dict[str, EncodingMap] = Field(default_factory=dict)
    lightgbm: LightGBMParams = LightGBMParams()
    calibration: CalibrationConfig = CalibrationConfig()
    split: SplitConfig = SplitConfig()
    master_scale: MasterScale
    scorecard: ScorecardConfig = ScorecardConfig()
    selection: SelectionConfig = SelectionConfig()
    validation: ValidationConfig = ValidationConfig()
    generic: GenericDataConfig = GenericDataConfig()
    #: a training setting (which rows the model learns from), kept out of the dump and so out of the
    #: configuration hash a decision records: the training run and the model card record it
    reject_inference: RejectInferenceConfig = Field(default_factory=RejectInferenceConfig, exclude=True)

    @model_validator(mode="after")
    def _features_consistent(self) -> PDModelConfig:
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate feature names: {dupes}")
        for i, spec in enumerate(self.features):
            if spec.encoding is not None:
                if spec.encoding not in self.encodings:
                    raise ValueError(
                        f"features.{i} ({spec.name}): encoding {spec.encoding!r} is not in encodings "
                        f"{sorted(self.encodings)}"
                    )
                if not spec.source.isidentifier():
                    raise ValueError(
                        f"features.{i} ({spec.name}): an encoded source must be one column; got {spec.source!r}"
                    )
            used = compile_expression(spec.source).names
            leaked = sorted(used & FORBIDDEN_FEATURE_INPUTS | ({self.split.target} & used))
            if leaked:
                raise ValueError(
                    f"features.{i} ({spec.name}): reads {leaked}, observed after as_of_date (point-in-time)"
                )
        return self

    @property
    def feature_names(self) -> list[str]:
        """Feature names in model order."""
        return [f.name for f in self.features]

    @property
    def monotone_constraints(self) -> list[int]:
        """Monotone constraints in model order (LightGBM convention: +1 output never decreases)."""
        return [int(f.monotone) for f in self.features]


def load_pd_config(
    name_or_path: str | Path = "default", *, overlays: tuple[str | Path, ...] = ()
) -> PDModelConfig:
    """Load a PD model profile by name (``configs/pd_model/<name>.yaml``) or path.

    Examples:
        >>> cfg = load_pd_config("default")
        >>> cfg.kind, len(cfg.master_scale.grades) >= 7, cfg.master_scale.pd_floor
        ('pd_model', True, 0.0003)
    """
    return load_config(resolve_config_path(name_or_path, "pd_model"), PDModelConfig, overlays=overlays)
