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
