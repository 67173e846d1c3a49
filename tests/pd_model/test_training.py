"""fit_pd_model: OOT quality against the oracle, no leak from the test slice, a complete pack."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from credit_points.pd_model.training import fit_pd_model


@pytest.fixture(scope="module")
def result(panel, fast_config):
    return fit_pd_model(panel, fast_config)


def test_oot_auc_is_close_to_the_oracle(result, panel) -> None:
    oracle = roc_auc_score(result.y_oot, panel["true_pd"].to_numpy()[result.split.test])
    assert result.validation["metrics"]["auc"] >= 0.95 * oracle


def test_result_holds_the_pack_and_the_verdict(result, fast_config) -> None:
    metrics = result.metrics
    for key in (
        "auc",
        "auc_ci_low",
        "ks",
        "brier",
        "ece",
        "score_psi",
        "csi_max",
        "challenger_auc",
        "blend_weight",
    ):
        assert np.isfinite(metrics[key])
    assert result.selection["chosen"] in {"lightgbm", "scorecard", "blend"}
    assert list(result.validation["grade_table"]["grade"]) == fast_config.master_scale.labels
    assert list(result.X_train.columns) == fast_config.feature_names
    assert len(result.X_oot) == len(result.split.test)
    assert (result.prob_default_oot >= fast_config.master_scale.pd_floor).all()


def test_test_outcomes_cannot_change_the_model(panel, fast_config, result) -> None:
    # given the same data with every test-slice outcome flipped
    flipped = panel.copy()
    target = flipped["default_12m"].to_numpy().copy()
    target[result.split.test] = 1 - target[result.split.test]
    flipped["default_12m"] = target
    # when refitted / then the model is byte-identical: nothing was learnt from the test slice
    other = fit_pd_model(flipped, fast_config)
    assert other.model.to_dict() == result.model.to_dict()
