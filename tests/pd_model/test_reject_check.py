"""The reject-inference self-check on data without a truth: which loans it hides, what it reports, and
when it refuses to compare."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_points.exceptions import DataValidationError
from credit_points.pipelines.reject_check import check_reject_inference, stricter_policy_slice


@pytest.fixture(scope="module")
def book(panel: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The panel as a lender's table: the old policy's score (true log-odds plus noise) decided; the
    safest 70% were booked; the others have no outcome."""
    rng = np.random.default_rng(4)
    score = 1 / (
        1 + np.exp(-(np.log(panel["true_pd"] / (1 - panel["true_pd"])) + rng.normal(0, 0.6, len(panel))))
    )
    booked = score <= np.quantile(score, 0.7)
    frame = panel.drop(columns=["true_pd"]).assign(default_12m=panel["default_12m"].where(booked))
    return frame.reset_index(drop=True), pd.DataFrame({"previous_model_pd": score.to_numpy()})


def test_the_hidden_slice_is_each_years_riskiest_booked_loans(book) -> None:
    frame, decided = book
    hidden = stricter_policy_slice(frame, decided, 0.25)
    booked = frame["default_12m"].notna().to_numpy()
    assert not (hidden & ~booked).any()  # only booked loans, whose outcome is known, are hidden
    score = decided["previous_model_pd"].to_numpy()
    for year in frame["as_of_date"].dt.year.unique():
        rows = (frame["as_of_date"].dt.year == year).to_numpy() & booked
        assert hidden[rows].mean() == pytest.approx(0.25, abs=0.01)
        assert score[rows & hidden].min() >= score[rows & ~hidden].max()


def test_the_check_reports_each_method_against_none_and_full_information(book, fast_config) -> None:
    frame, decided = book
    result = check_reject_inference(
        frame, decided, fast_config, methods=("augment", "parcel"), min_test_defaults=5, min_hidden_defaults=1
    )
    assert set(result.rows) == {"none", "augment", "parcel", "full"}
    assert result.rows["none"]["gap_recovered"] == 0.0
    assert result.rows["full"]["gap_recovered"] == pytest.approx(1.0)
    for name in ("augment", "parcel"):
        assert result.beats_none(name) == (result.rows[name]["auc"] > result.rows["none"]["auc"])
    # the hidden test loans are the riskiest: they default more often than the test year's booked loans
    hidden_rate = result.rows["none"]["hidden_observed_rate"]
    assert 0 < result.test_hidden_rows < result.test_rows and hidden_rate > 0
    assert {row["hidden_observed_rate"] for row in result.rows.values()} == {hidden_rate}
    assert result.as_dict()["methods"] is result.rows


def test_too_few_defaults_or_no_decision_score_is_refused(book, fast_config) -> None:
    frame, decided = book
    with pytest.raises(DataValidationError, match=r"too few defaults to tell methods apart: \d+ among"):
        check_reject_inference(frame, decided, fast_config, methods=("augment",), min_test_defaults=10**6)
    with pytest.raises(DataValidationError, match="no booked loan carries the score it was decided with"):
        stricter_policy_slice(frame, pd.DataFrame(index=frame.index), 0.2)
    with pytest.raises(DataValidationError, match="share"):
        stricter_policy_slice(frame, decided, 1.5)
