"""Master scale: floor, bands, default grade."""

from __future__ import annotations

import numpy as np
import pytest

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.master_scale import apply_pd_floor, assign_grade


def test_every_pd_lands_in_the_band_that_contains_it(pd_config) -> None:
    scale = pd_config.master_scale
    rng = np.random.default_rng(1)
    prob_default = np.concatenate([rng.uniform(0, 1, 2000), [g.pd_max for g in scale.grades[:-1]]])
    grades = assign_grade(prob_default, scale)
    floored = np.maximum(prob_default, scale.pd_floor)
    bounds = {g.grade: g.pd_max for g in scale.grades}
    lowers = dict(
        zip([g.grade for g in scale.grades], [0.0] + [g.pd_max for g in scale.grades[:-1]], strict=True)
    )
    for p, g in zip(floored, grades, strict=True):
        assert lowers[g] <= p < bounds[g]


def test_floor_and_default_grade(pd_config) -> None:
    scale = pd_config.master_scale
    assert apply_pd_floor([0.0], scale)[0] == scale.pd_floor
    assert assign_grade([1.0], scale)[0] == "D"
    assert assign_grade([0.01], scale, defaulted=[True])[0] == "D"


@pytest.mark.parametrize("bad", [np.nan, -0.1, 1.5, np.inf])
def test_invalid_pd_is_an_error(pd_config, bad) -> None:
    with pytest.raises(DataValidationError, match="PD must be"):
        assign_grade([0.1, bad], pd_config.master_scale)


def test_grades_never_improve_as_pd_rises(pd_config) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scale = pd_config.master_scale
    order = {g: i for i, g in enumerate(scale.labels)}

    @settings(max_examples=200, deadline=None)
    @given(st.floats(0, 1), st.floats(0, 1))
    def check(a: float, b: float) -> None:
        lo, hi = min(a, b), max(a, b)
        g_lo, g_hi = assign_grade([lo, hi], scale)
        assert order[g_lo] <= order[g_hi]

    check()
