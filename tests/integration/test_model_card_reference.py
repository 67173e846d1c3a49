"""A trained model version carries its monitoring reference in the bundle's model card."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_the_registered_version_keeps_what_monitoring_compares_with(trained_model) -> None:
    engine = trained_model.engine
    reference = engine.model_card["monitoring_reference"]
    assert set(reference["features"]) == set(engine.pd_config.feature_names)
    assert reference["rows"] == engine.model_card["rows"]["train"]
    for part in (reference["prob_default"], *reference["features"].values()):
        assert sum(part["shares"]) == pytest.approx(1.0)
        assert part["edges"] == sorted(part["edges"])
    assert sum(reference["grades"].values()) == pytest.approx(1.0)
    assert set(reference["grades"]) <= {g.grade for g in engine.pd_config.master_scale.grades}


def test_the_reference_describes_the_training_rows_as_the_version_serves_them(trained_model) -> None:
    # the training rows (the model card's training window), decided by the served engine: points against
    # the reference population the version pins, not each year's own
    import numpy as np
    import pandas as pd

    from credit_points.pd_model.split import oot_split
    from credit_points.pd_model.validation import reference_distribution
    from credit_points.pipelines.common import load_applicants

    engine = trained_model.engine
    card = engine.model_card
    frame = load_applicants(trained_model.data_dir / "applicants.parquet", require_outcome=True).frame
    frame = frame.reset_index(drop=True)
    rows = frame.iloc[oot_split(frame, engine.pd_config).train].reset_index(drop=True)
    assert len(rows) == card["rows"]["train"]
    decided = engine.decide(rows.drop(columns=["default_12m"]), explain="none")
    joined = pd.concat([rows, engine.score_points(rows)], axis=1)
    served = engine.features(joined)
    reference = card["monitoring_reference"]
    for name in ("points_cat_aux", "points_total", "log_revenue"):
        if name not in served.columns:
            continue
        expected = reference_distribution(served[name].to_numpy(dtype="float64"), reference["bins"])
        assert reference["features"][name]["edges"] == pytest.approx(expected["edges"], abs=1e-12), name
        assert reference["features"][name]["shares"] == pytest.approx(expected["shares"], abs=1e-12), name
    expected = reference_distribution(decided["prob_default"].to_numpy(), reference["bins"])
    assert reference["prob_default"]["shares"] == pytest.approx(expected["shares"], abs=1e-12)
    assert np.allclose(reference["prob_default"]["edges"], expected["edges"], rtol=1e-12)
