"""The decision engine: points config + reference population + PD model + policy → ``decide(frame) -> frame``.

One object, built once (from a bundle or from freshly trained parts), serves a batch of one (the API), a
batch file and a Dask partition with the same vectorised code. Contributions (TreeSHAP) cost ~200× a
prediction, so they are computed only where they are used: on adverse outcomes, for reason codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from credit_points.config import canonical_json, sha256_text
from credit_points.datasets.fields import FieldsConfig
from credit_points.exceptions import ModelError
from credit_points.explain.config import ReasonCodesConfig
from credit_points.explain.reasons import adverse_outcome, reason_codes
from credit_points.pd_model.calibration import sigmoid
from credit_points.pd_model.classifier import PDClassifier
from credit_points.pd_model.config import PDModelConfig
from credit_points.pd_model.features import build_features, feature_order_hash
from credit_points.pd_model.master_scale import assign_grade
from credit_points.points.config import PointsConfig
from credit_points.points.engine import PointsScorer
from credit_points.points.reference import ReferenceTable
from credit_points.policy.config import PolicyConfig
from credit_points.policy.engine import apply_policy

Explain = Literal["adverse", "all", "none"]
ADDITIVITY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ModelIdentity:
    """What a decision records about the model that made it."""

    name: str = "credit-points"
    version: str = "unregistered"
    artifact_hash: str = ""
    run_id: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "artifact_hash": self.artifact_hash, "run_id": self.run_id}


@dataclass
class DecisionEngine:
    """Everything one decision needs, held once.

    Attributes:
        points_config: the zone's points rules.
        reference: the pinned reference population (quantile tables).
        pd_config: features, master scale.
        classifier: the fitted, calibrated PD model.
        policy: products and limit policy.
        reason_codes_config: reason families and texts.
        fields: the applicant record catalogue.
        identity: model name, concrete version and artifact hash (set when loaded from a bundle).
        model_card: training and validation summary shown in reports and ``GET /v1/model``.
    """

    points_config: PointsConfig
    reference: ReferenceTable
    pd_config: PDModelConfig
    classifier: PDClassifier
    policy: PolicyConfig
    reason_codes_config: ReasonCodesConfig
    fields: FieldsConfig
    identity: ModelIdentity = field(default_factory=ModelIdentity)
    model_card: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._scorer = PointsScorer(self.points_config, self.reference)
        self._feature_order_hash = feature_order_hash(self.pd_config)

    @property
    def feature_order_hash(self) -> str:
        return self._feature_order_hash

    @property
    def versions(self) -> dict[str, Any]:
        """Config versions and hashes every decision records."""
        return {
            "points": {"version": self.points_config.version, "hash": self.points_config.content_hash},
            "reference": {"hash": self.reference.content_hash},
            "pd_model": {"version": self.pd_config.version, "hash": self.pd_config.content_hash},
            "policy": {"version": self.policy.version, "hash": self.policy.content_hash},
            "reason_codes": {"version": self.reason_codes_config.version, "hash": self.reason_codes_config.content_hash},
            "fields": {"version": self.fields.version, "hash": self.fields.content_hash},
        }

    def with_policy(self, policy: PolicyConfig) -> DecisionEngine:
        """The same model and points under another policy (what-if studies of a policy change)."""
        from dataclasses import replace

        return replace(self, policy=policy, identity=ModelIdentity(self.identity.name, f"{self.identity.version}+policy"))

    def set_threads(self, num_threads: int) -> None:
        """LightGBM threads per prediction (1 per serving process: scale with workers, not threads)."""
        self.classifier.num_threads = int(num_threads)

    def score_points(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Innovation points only (``POST /v1/points``)."""
        return self._scorer.score(frame)

    def features(self, joined: pd.DataFrame) -> pd.DataFrame:
        """Model features (float64, in the order the model was trained on) of record + points columns."""
        return build_features(joined, self.pd_config)

    def predict(self, joined: pd.DataFrame, features: pd.DataFrame | None = None) -> pd.DataFrame:
        """PD columns (``raw_score``, ``prob_default``, ``grade``) for a frame of record + points columns."""
        features = self.features(joined) if features is None else features
        raw = self.classifier.raw_score(features)
        # the regulatory PD floor applies to every use of the PD (grade, limit, price, expected loss)
        prob_default = np.maximum(sigmoid(raw), self.pd_config.master_scale.pd_floor)
        grades = assign_grade(prob_default, self.pd_config.master_scale)
        return pd.DataFrame({"raw_score": raw, "prob_default": prob_default, "grade": grades}, index=joined.index)

    def contributions(self, features: pd.DataFrame, raw_score: np.ndarray | None = None) -> pd.DataFrame:
        """TreeSHAP contributions in calibrated log-odds (``contrib_<feature>`` + ``contrib_base``).

        When ``raw_score`` is given, additivity is checked: base + Σ contributions must equal the raw score
        to 1e-6, or the explanation is not faithful and :class:`ModelError` is raised.
        """
        contrib, base = self.classifier.contributions(features)
        if raw_score is not None:
            gap = np.abs(base + contrib.sum(axis=1) - raw_score)
            if gap.size and float(gap.max()) > ADDITIVITY_TOLERANCE:
                raise ModelError(f"SHAP additivity violated by {float(gap.max()):.3g} (> {ADDITIVITY_TOLERANCE})")
        out = pd.DataFrame(contrib, columns=[f"contrib_{c}" for c in features.columns], index=features.index)
        out["contrib_base"] = base
        return out

    def decide(self, frame: pd.DataFrame, *, explain: Explain = "adverse") -> pd.DataFrame:
        """Decide every row of a validated applicant frame.

        Args:
            frame: validated applicant rows (see ``datasets.schema.validate_applicants``).
            explain: where to compute contributions — rows that need reason codes (default), all rows
                (reports), or none (validation and fast portfolio runs: no contributions, no reason codes).

        Returns:
            The input columns, then points, PD, policy and reason-code columns (docs/architecture.md),
            plus model and config identity.
        """
        points = self._scorer.score(frame)
        joined = pd.concat([frame, points], axis=1)
        features = self.features(joined)
        risk = self.predict(joined, features)
        joined = pd.concat([joined, risk], axis=1)
        decided = pd.concat([joined, apply_policy(joined, self.policy)], axis=1)

        if explain == "all":
            mask = np.ones(len(decided), dtype=bool)
        elif explain == "adverse":
            mask = adverse_outcome(decided, self.policy)
        else:
            mask = np.zeros(len(decided), dtype=bool)
        if mask.any():
            contrib = self.contributions(features.loc[mask], risk["raw_score"].to_numpy()[mask])
            decided = decided.join(contrib)
        if explain == "none":
            decided["reason_codes"] = ""
            decided["reason_codes_version"] = self.reason_codes_config.version
        else:
            decided = pd.concat([decided, reason_codes(decided, self.policy, self.reason_codes_config)], axis=1)
        decided["model_name"] = self.identity.name
        decided["model_version"] = self.identity.version
        decided["model_artifact_hash"] = self.identity.artifact_hash
        decided["feature_order_hash"] = self._feature_order_hash
        return decided


def input_sha256(record: Mapping[str, Any]) -> str:
    """SHA-256 of one applicant's canonical JSON (what the audit row stores and replay re-reads)."""
    return sha256_text(canonical_json(record))
