"""DeLong's paired AUC test against independent computations (sklearn AUC, an O(n·m) placement-value variance)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from credit_points.pd_model.delong import delong_test


def _slow_delong(y, a, b):
    """Textbook DeLong: placement values by explicit pairwise comparison."""
    pos, neg = y == 1, y == 0

    def placements(s):
        sp, sn = s[pos], s[neg]
        psi = (sp[:, None] > sn[None, :]).astype(float) + 0.5 * (sp[:, None] == sn[None, :])
        return psi.mean(axis=1), psi.mean(axis=0), psi.mean()

    v10a, v01a, auc_a = placements(a)
    v10b, v01b, auc_b = placements(b)
    m, n = pos.sum(), neg.sum()
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    cov = s10 / m + s01 / n
    return auc_a, auc_b, np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])


def test_given_two_scores_when_tested_then_aucs_and_se_match_independent_computation():
    rng = np.random.default_rng(3)
    y = rng.binomial(1, 0.2, 400)
    a = y * 0.8 + rng.normal(size=400)
    b = np.round(a + rng.normal(scale=0.7, size=400), 1)  # ties on purpose
    result = delong_test(y, a, b)
    auc_a, auc_b, se = _slow_delong(y, a, b)
    assert result.auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert result.auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    assert result.auc_a == pytest.approx(auc_a, abs=1e-12)
    assert result.se_diff == pytest.approx(se, rel=1e-9)


def test_given_a_much_worse_score_when_tested_then_drop_is_significant():
    rng = np.random.default_rng(4)
    y = rng.binomial(1, 0.3, 2000)
    good = y * 1.5 + rng.normal(size=2000)
    noise = rng.normal(size=2000)
    result = delong_test(y, noise, good)
    assert result.p_value_a_worse < 1e-6
    assert delong_test(y, good, good).p_value_two_sided == pytest.approx(1.0)


def test_given_one_class_when_tested_then_clear_error():
    with pytest.raises(ValueError, match="both outcomes"):
        delong_test(np.zeros(5), np.arange(5.0), np.arange(5.0))
