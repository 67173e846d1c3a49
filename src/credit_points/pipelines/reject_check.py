"""Reject inference checked on a bank's own data, where no truth exists for the applicants turned away.

The check makes rejects whose truth it knows: among the booked loans of each year it hides the outcomes
of the share a **stricter policy** would have declined — the riskiest by the score the bank decided with
(``prob_default_decided`` of this product's decisions, ``previous_model_pd`` of the historical book) —
and trains each method as if they were rejects, beside the real ones. The reference trains with those
outcomes visible. On the test year's booked loans (out of time; never learned from) it reports each
model's AUC, the share of the AUC gap between ``none`` and the reference it recovers, and, on the hidden
slice of that year, its calibration: the predicted over the observed default rate, and the ECE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.config import PDModelConfig
from credit_points.pd_model.reject_inference import METHODS, with_reject_inference

#: the columns of an ``outcomes dataset`` table that hold the score the bank decided with, in preference order
DECISION_SCORES = ("prob_default_decided", "previous_model_pd")
#: fewest defaults among the test year's booked loans, and among its hidden ones, for the check to compare
#: methods at all (below, AUC differences between methods are noise)
MIN_TEST_DEFAULTS = 20
MIN_HIDDEN_DEFAULTS = 5


@dataclass
class RejectCheck:
    """What the check did and found: one row per method, and ``full`` (the hidden outcomes visible)."""

    share: float
    hidden_rows: int
    test_rows: int
    test_hidden_rows: int
    rows: dict[str, dict[str, float]] = field(default_factory=dict)

    def beats_none(self, method: str) -> bool:
        """Whether ``method`` ranks the test year's loans better than ``none`` did."""
        return self.rows[method]["auc"] > self.rows["none"]["auc"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "share": self.share,
            "hidden_rows": self.hidden_rows,
            "test_rows": self.test_rows,
            "test_hidden_rows": self.test_hidden_rows,
            "methods": self.rows,
        }


def stricter_policy_slice(frame: pd.DataFrame, decided: pd.DataFrame | None, share: float) -> np.ndarray:
    """The booked loans a stricter policy would have declined: per year, the ``share`` riskiest by the
    score the bank decided with. Rows without that score are never hidden."""
    if not 0.0 < share < 1.0:
        raise DataValidationError("must lie strictly between 0 and 1", field="share", value=share)
    score = pd.Series(np.nan, index=frame.index)
    for column in DECISION_SCORES:
        if decided is not None and column in decided.columns:
            score = score.fillna(pd.Series(decided[column].to_numpy(dtype="float64"), index=frame.index))
    booked = frame["default_12m"].notna()
    if not (booked & score.notna()).any():
        raise DataValidationError(
            f"no booked loan carries the score it was decided with ({' or '.join(DECISION_SCORES)}): train "
            "on the table that `credit-points outcomes dataset` writes",
            field="prob_default_decided",
        )
    year = frame["as_of_date"].dt.year
    hidden = np.zeros(len(frame), dtype=bool)
    for y in np.unique(year):
        rows = (year == y) & booked & score.notna()
        if rows.sum() < 2:
            continue
        cut = score[rows].quantile(1.0 - share)
        hidden |= (rows & (score >= cut)).to_numpy()
    return hidden


def check_reject_inference(
    frame_with_points: pd.DataFrame,
    decided: pd.DataFrame | None,
    config: PDModelConfig,
    *,
    share: float = 0.2,
    methods: tuple[str, ...] = METHODS,
    min_test_defaults: int = MIN_TEST_DEFAULTS,
    min_hidden_defaults: int = MIN_HIDDEN_DEFAULTS,
) -> RejectCheck:
    """Train ``methods`` with the stricter policy's slice hidden, and the reference with it visible.

    Refused (:class:`DataValidationError`) when the test year's booked loans hold fewer than
    ``min_test_defaults`` defaults, or its hidden ones fewer than ``min_hidden_defaults``.
    """
    from sklearn.metrics import roc_auc_score

    from credit_points.pd_model.features import build_features
    from credit_points.pd_model.split import oot_split
    from credit_points.pd_model.training import fit_pd_model
    from credit_points.pd_model.validation import expected_calibration_error

    frame = frame_with_points.reset_index(drop=True)
    hidden = stricter_policy_slice(frame, decided, share)
    masked = frame.assign(default_12m=frame["default_12m"].where(~hidden))
    y = frame["default_12m"].to_numpy(dtype="float64")
    test = oot_split(frame, config).test
    test = test[~np.isnan(y[test])]
    defaults, hidden_defaults = int(np.sum(y[test])), int(np.sum(y[test[hidden[test]]]))
    if defaults < min_test_defaults or hidden_defaults < min_hidden_defaults:
        raise DataValidationError(
            f"too few defaults to tell methods apart: {defaults} among the test year's booked loans (need "
            f"{min_test_defaults}), {hidden_defaults} among its hidden ones (need {min_hidden_defaults})",
            field="default_12m",
        )
    fits = {
        m: fit_pd_model(masked, with_reject_inference(config, m)) for m in dict.fromkeys(("none", *methods))
    }
    fits["full"] = fit_pd_model(frame, with_reject_inference(config, "none"))
    test_hidden = test[hidden[test]]  # the test year's booked loans, hidden or not; the hidden ones
    result = RejectCheck(share, int(hidden.sum()), len(test), len(test_hidden))
    X = build_features(frame.iloc[test], config)
    for name, fit in fits.items():
        prob = fit.model.predict_pd(X)
        hidden_prob = prob[hidden[test]]
        observed = float(np.mean(y[test_hidden])) if len(test_hidden) else float("nan")
        result.rows[name] = {
            "auc": float(roc_auc_score(y[test], prob)),
            "hidden_predicted_rate": float(np.mean(hidden_prob)) if len(hidden_prob) else float("nan"),
            "hidden_observed_rate": observed,
            "hidden_ece": float(expected_calibration_error(y[test_hidden], hidden_prob))
            if len(test_hidden)
            else float("nan"),
        }
    gap = result.rows["full"]["auc"] - result.rows["none"]["auc"]
    for name in result.rows:
        result.rows[name]["gap_recovered"] = (
            (result.rows[name]["auc"] - result.rows["none"]["auc"]) / gap if gap > 0 else float("nan")
        )
    return result
