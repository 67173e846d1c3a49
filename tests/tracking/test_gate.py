"""The promotion gate's criteria and the score PSI, against hand computations."""

import numpy as np
import pytest

from credit_points.config import CONFIG_DIR, load_config
from credit_points.tracking.gate import PromotionConfig, evaluate_gate, score_distribution, score_psi


@pytest.fixture
def gate_config() -> PromotionConfig:
    return load_config(CONFIG_DIR / "promotion.yaml", PromotionConfig)


def test_given_same_population_when_psi_then_near_zero_and_shifted_population_large():
    rng = np.random.default_rng(0)
    train = rng.normal(size=20_000)
    ref = score_distribution(train)
    assert score_psi(ref, rng.normal(size=20_000)) < 0.01
    assert score_psi(ref, rng.normal(loc=0.8, size=20_000)) > 0.25


def test_given_bins_when_psi_then_matches_hand_formula():
    ref = {"edges": [0.0], "proportions": [0.5, 0.5]}
    scores = np.array([-1.0] * 30 + [1.0] * 70)
    expected = (0.3 - 0.5) * np.log(0.3 / 0.5) + (0.7 - 0.5) * np.log(0.7 / 0.5)
    assert score_psi(ref, scores) == pytest.approx(expected, rel=1e-12)


def test_given_a_good_challenger_when_gated_then_passes(gate_config):
    result = evaluate_gate(
        gate_config,
        oot_auc=0.81,
        n_defaults=300,
        red_grades=[],
        psi=0.02,
        auc_drop_p_value=0.4,
        champion_auc=0.80,
    )
    assert result.passed, result.to_frame()


def test_given_a_degraded_challenger_when_gated_then_each_failure_is_named(gate_config):
    result = evaluate_gate(
        gate_config,
        oot_auc=0.62,
        n_defaults=300,
        red_grades=["7"],
        psi=0.31,
        auc_drop_p_value=1e-5,
        champion_auc=0.8,
    )
    assert not result.passed
    assert {c.name for c in result.failures} == {
        "oot_auc_floor",
        "no_significant_auc_drop",
        "no_red_grade",
        "score_psi",
    }
