"""Out-of-time split: later cohorts in test, no firm on both sides, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.split import oot_split


def _with_split(config, **update):
    return config.model_copy(update={"split": config.split.model_copy(update=update)})


@pytest.mark.parametrize("firm_split", ["holdout", "drop"])
def test_no_firm_is_in_both_train_and_test_and_time_runs_forward(panel, pd_config, firm_split) -> None:
    # given a panel where half the firms have left before the last year
    last = panel["as_of_date"].dt.year == panel["as_of_date"].dt.year.max()
    even = panel["firm_id"].str[-1].isin(list("02468"))
    panel = panel.loc[~(last & even)].reset_index(drop=True)
    cfg = _with_split(pd_config, firm_split=firm_split)
    s = oot_split(panel, cfg)
    firms = panel["firm_id"].to_numpy()
    dates = panel["as_of_date"].to_numpy()
    assert not set(firms[s.train]) & set(firms[s.test])
    assert not set(firms[s.calib]) & set(firms[s.test])
    assert dates[s.train].max() < dates[s.calib].min() <= dates[s.calib].max() < dates[s.test].min()
    assert not set(s.train) & set(s.calib) and not set(s.calib) & set(s.test)
    assert len(s.train) + len(s.calib) + len(s.test) + s.dropped_firm_rows == len(panel)


def test_holdout_keeps_the_training_default_rate_unbiased(panel, pd_config) -> None:
    # in a panel the firms that survive to the test window are the better ones; a random firm holdout keeps
    # training representative, dropping test-window firms does not (this synthetic panel has no exits, so
    # both must stay close to the population rate here)
    s = oot_split(panel, pd_config)
    early = panel["as_of_date"].dt.year <= panel["as_of_date"].dt.year.max() - 2
    assert panel["default_12m"].to_numpy()[s.train].mean() == pytest.approx(
        panel.loc[early, "default_12m"].mean(), abs=0.02
    )


def test_quantile_mode(panel, pd_config) -> None:
    s = oot_split(panel, _with_split(pd_config, mode="quantiles", calib_quantile=0.5, test_quantile=0.75))
    dates = panel["as_of_date"].to_numpy()
    assert dates[s.train].max() < dates[s.test].min()


def test_split_is_deterministic(panel, pd_config) -> None:
    a, b = oot_split(panel, pd_config), oot_split(panel, pd_config)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.train, b.train)


def test_too_few_years_is_an_error(pd_config) -> None:
    frame = pd.DataFrame({"firm_id": ["a", "b"], "as_of_date": pd.to_datetime(["2020-01-01", "2021-01-01"])})
    with pytest.raises(DataValidationError, match="at least 3 distinct years"):
        oot_split(frame, pd_config)


def test_missing_date_column_is_named(panel, pd_config) -> None:
    with pytest.raises(DataValidationError) as err:
        oot_split(panel.drop(columns=["as_of_date"]), pd_config)
    assert err.value.field == "as_of_date"
