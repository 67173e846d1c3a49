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


def test_the_oot_rows_are_every_unseen_firm_and_the_bundle_digests_select_the_same_rows(
    panel, pd_config
) -> None:
    from credit_points.pd_model.oot import firm_digests, oot_cohort

    # given a firm that first applies in the test year (on the training side of the random holdout)
    last = panel["as_of_date"].max()
    newcomer = panel.loc[panel["as_of_date"] == last].iloc[[0]].assign(firm_id="NEWCOMER-0001")
    frame = pd.concat([panel, newcomer], ignore_index=True)
    s = oot_split(frame, pd_config)
    firms = frame["firm_id"].to_numpy()
    seen = set(firms[s.train]) | set(firms[s.calib])
    in_window = frame["as_of_date"].to_numpy() >= s.test_start.to_datetime64()
    # then the test is exactly the test window's rows of firms without a training or calibration row
    expected = np.flatnonzero(in_window & ~np.isin(firms, list(seen)))
    assert np.array_equal(s.test, expected) and len(frame) - 1 in s.test
    # and the digests a bundle records select the same rows from the data (what evaluate and the gate use)
    digests = s.seen_firms(frame, "firm_id")
    assert len(digests) == len(seen) and set(digests) == set(firm_digests(sorted(seen)))
    window = (
        str(frame["as_of_date"].iloc[s.test].min().date()),
        str(frame["as_of_date"].iloc[s.test].max().date()),
    )
    cohort = oot_cohort(frame, window=window, seen_firms=digests, target=None)
    assert np.array_equal(np.flatnonzero(cohort.mask), s.test)
    assert cohort.seen_rows_left_out == int((in_window & np.isin(firms, list(seen))).sum()) > 0
    # without the digests (a version that records none) every firm of the window counts
    everyone = oot_cohort(frame, window=window, seen_firms=None, target=None)
    assert everyone.n == int(in_window.sum()) and everyone.describe()["firms"] == "all"
