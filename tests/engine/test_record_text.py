"""Column-wise decision records (``score --audit``) against the per-row records the API builds and replays."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from credit_points.config import canonical_json, sha256_text
from credit_points.datasets.schema import validate_applicants
from credit_points.record_text import _floats, _join, encode_records
from credit_points.records import decide_records, decision_records


@pytest.fixture(scope="module")
def batch(trained_model: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """1,200 applicants of every stage and outcome, some with awkward values, and their decisions."""
    frame = trained_model.applicants.sample(1200, random_state=5).reset_index(drop=True)
    frame = frame.drop(columns=["default_12m"])
    frame.loc[0, "name"] = 'quote " backslash \\ newline \n tab \t 中文'
    frame.loc[1, "revenue"] = 123456789012.5  # 1.2e11: beyond the range Arrow formats as repr does
    frame.loc[2, "net_profit"] = 0.00001234  # below 1e-4: written in exponent form
    frame.loc[3, "revenue_prev"] = np.nan
    frame.loc[4, "net_profit"] = -0.0
    good, errors = validate_applicants(frame)
    assert errors.empty, errors
    return good, trained_model.engine.decide(good)


def test_every_record_is_the_per_row_record_byte_for_byte(trained_model: Any, batch) -> None:
    # given a decided batch with approvals, referrals, declines, vetoes and awkward values
    engine = trained_model.engine
    good, decided = batch
    assert set(decided["decision"]) == {"approve", "refer", "decline"}
    # when it is encoded column-wise
    encoded = encode_records(engine, decided)
    # then each record is exactly what the per-row path writes for the stored input
    inputs = [json.loads(text)["input"] for text in encoded.texts]
    exact = [canonical_json(r) for r in decision_records(engine, decided, inputs)]
    assert encoded.texts == exact
    # and re-deciding each stored input (what replay does) gives the same bytes again
    assert [canonical_json(r) for r in decide_records(engine, inputs)] == encoded.texts
    # and the hashes and indexed values are those of the text
    assert encoded.record_sha256 == [sha256_text(t) for t in encoded.texts]
    records = [json.loads(t) for t in encoded.texts]
    assert encoded.input_sha256 == [r["input_sha256"] for r in records]
    assert encoded.decision == [r["decision"] for r in records]
    assert encoded.prob_default == [r["risk"]["prob_default"] for r in records]
    assert encoded.limit == [r["limit"]["limit"] for r in records]
    assert records[0]["input"]["name"] == good.loc[0, "name"]
    assert records[1]["input"]["revenue"] == 123456789012.5
    assert records[3]["input"]["revenue_prev"] is None


def test_numbers_are_written_as_json_writes_floats_on_every_range() -> None:
    # given numbers from tiny to huge, integral or not, signed zeros and non-finite values
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.normal(size=20_000) * 10.0 ** rng.integers(-12, 14, 20_000),
            np.round(rng.random(5_000) * 1e9),
            [0.0, -0.0, 1e-4, 9.999999999e9, 1e10, 1e16, 5e-324, np.nan, np.inf, -np.inf],
        ]
    )
    # when formatted column-wise
    text = _join(_floats(values), len(values)).to_pylist()
    # then every value reads as json.dumps writes it (non-finite as null, as records._plain does)
    expected = [json.dumps(v) if np.isfinite(v) else "null" for v in values.tolist()]
    assert text == expected


def test_a_defect_in_the_column_wise_path_is_caught_before_anything_is_stored(
    trained_model: Any, batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a column-wise encoder whose limit section is wrong
    import credit_points.record_text as record_text

    good, decided = batch
    real = record_text._limit_json

    def broken(cols):  # noqa: ANN001, ANN202
        return real({**cols, "limit": np.asarray(cols["limit"], dtype=float) + 1.0})

    monkeypatch.setattr(record_text, "_limit_json", broken)
    # when a batch is encoded, then the sampled comparison with the per-row path refuses it
    with pytest.raises(RuntimeError, match="differs from the per-row record"):
        encode_records(trained_model.engine, decided.head(50))
