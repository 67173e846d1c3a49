"""The engine's serving path (numpy matrix, column mappings, one output frame) against the frame-based parts.

Each fast path is checked against an independent route to the same number: sklearn's validated predict,
LightGBM's own ``pred_contrib``, ``apply_policy`` / ``reason_codes`` on a frame, and hand maths for features.
"""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from credit_points.datasets.schema import validate_applicants
from credit_points.exceptions import DataValidationError
from credit_points.explain.reasons import reason_code_positions, reason_codes
from credit_points.expressions import Expression, compile_expression
from credit_points.pd_model.features import build_features, feature_matrix
from credit_points.policy.decision import apply_policy, policy_decision
from credit_points.records import decide_records, decision_records, input_records


@pytest.fixture(scope="module")
def applicants(trained_model: Any) -> pd.DataFrame:
    frame = trained_model.applicants
    good, _ = validate_applicants(frame.sample(300, random_state=3).reset_index(drop=True))
    return good


@pytest.fixture(scope="module")
def decided(trained_model: Any, applicants: pd.DataFrame) -> pd.DataFrame:
    return trained_model.engine.decide(applicants)


def test_pd_on_the_bare_matrix_equals_the_validated_sklearn_path(
    trained_model: Any, applicants, decided
) -> None:
    # given the engine's decisions (features handed to LightGBM as a bare float64 matrix)
    engine = trained_model.engine
    # when the same rows go through the classifier's checked DataFrame path (sklearn validate_data)
    joined = pd.concat([applicants, engine.score_points(applicants)], axis=1)
    raw = engine.classifier.raw_score(build_features(joined, engine.pd_config))
    # then the raw scores are bit-identical
    np.testing.assert_array_equal(decided["raw_score"].to_numpy(), raw)


def test_contributions_equal_lightgbm_pred_contrib_where_reasons_are_given(
    trained_model: Any, applicants, decided
) -> None:
    # given rows with reason codes (their contributions were computed)
    engine = trained_model.engine
    explained = decided["contrib_base"].notna().to_numpy()
    assert explained.any() and not explained.all(), "the sample needs both adverse and favourable rows"
    # when LightGBM computes TreeSHAP itself on those rows' features, in calibrated log-odds
    joined = pd.concat([applicants, engine.score_points(applicants)], axis=1)
    X = build_features(joined, engine.pd_config).to_numpy()[explained]
    full = engine.classifier.booster_.predict(X, pred_contrib=True)
    a, b = engine.classifier.calib_a_, engine.classifier.calib_b_
    w = engine.classifier.blend_weight_
    lgb_contrib, lgb_base = w * full[:, :-1], w * full[:, -1]
    if engine.classifier.scorecard_ is not None and w < 1.0:  # a blended scorecard adds its own, by weight
        sc_contrib, sc_base = engine.classifier.scorecard_.contributions(X)
        lgb_contrib, lgb_base = lgb_contrib + (1 - w) * sc_contrib, lgb_base + (1 - w) * sc_base
    # then the engine's columns match, and they add up to the raw score
    names = [f"contrib_{c}" for c in engine.pd_config.feature_names]
    np.testing.assert_allclose(decided.loc[explained, names].to_numpy(), a * lgb_contrib, rtol=0, atol=1e-10)
    total = decided.loc[explained, names].sum(axis=1) + decided.loc[explained, "contrib_base"]
    np.testing.assert_allclose(total, decided.loc[explained, "raw_score"], atol=1e-6)
    np.testing.assert_allclose(decided.loc[explained, "contrib_base"], a * lgb_base + b, atol=1e-10)
    assert decided.loc[~explained, names].isna().all().all()


def test_policy_on_a_mapping_equals_apply_policy_on_the_frame(trained_model: Any, decided) -> None:
    # given the decided frame (record, points and PD columns)
    engine = trained_model.engine
    frame_out = apply_policy(decided, engine.policy)
    # when the policy reads the same columns from a plain dict of numpy arrays
    source = {name: decided[name].to_numpy() for name in decided.columns}
    columns, offers = policy_decision(source, engine.policy, len(decided))
    # then every column is the same, and the refer hits cover every rule
    pd.testing.assert_frame_equal(pd.DataFrame(columns, index=decided.index), frame_out, check_exact=True)
    assert offers.refer_hits.shape == (len(decided), len(engine.policy.refer_rules))


def test_reason_positions_with_precomputed_parts_equal_reason_codes(trained_model: Any, decided) -> None:
    # given the decided frame without its reason columns
    engine = trained_model.engine
    frame = decided.drop(columns=["reason_codes", "reason_codes_version"])
    expected = reason_codes(frame, engine.policy, engine.reason_codes_config)["reason_codes"].tolist()
    # when reason codes are given the policy's refer hits and the contribution block instead
    _, offers = policy_decision(frame, engine.policy, len(frame))
    names = list(engine.pd_config.feature_names)
    block = frame[[f"contrib_{c}" for c in names]].to_numpy()
    positions, texts = reason_code_positions(
        frame,
        engine.policy,
        engine.reason_codes_config,
        refer_hits=offers.refer_hits,
        contributions=(names, block),
    )
    # then each row gets the same codes, and the same as the engine's output
    assert [texts[p] for p in positions] == expected
    assert decided["reason_codes"].tolist() == expected


def test_a_contribution_without_a_reason_family_is_named(trained_model: Any, decided) -> None:
    engine = trained_model.engine
    frame = decided.drop(columns=["reason_codes", "reason_codes_version"])
    block = np.ones((len(frame), 1))
    with pytest.raises(DataValidationError) as info:
        reason_code_positions(
            frame, engine.policy, engine.reason_codes_config, contributions=(["no_such"], block)
        )
    assert info.value.field == "contrib_no_such"


def test_features_by_hand(trained_model: Any, applicants) -> None:
    # given applicants joined with their points, as a frame and as a dict of numpy arrays
    engine = trained_model.engine
    joined = pd.concat([applicants, engine.score_points(applicants)], axis=1)
    names = list(engine.pd_config.feature_names)
    # when the features are computed from each
    matrix = feature_matrix(joined, engine.pd_config)
    as_dict = feature_matrix({c: joined[c].to_numpy() for c in joined.columns}, engine.pd_config, len(joined))
    # then both agree, and a few match hand computations
    np.testing.assert_array_equal(matrix, as_dict)
    assert matrix.flags["C_CONTIGUOUS"] and matrix.dtype == np.float64
    col = {n: matrix[:, k] for k, n in enumerate(names)}
    np.testing.assert_allclose(col["log_revenue"], np.log1p(joined["revenue"].to_numpy()), rtol=1e-15)
    days = (joined["as_of_date"] - joined["founded_date"]).dt.days.to_numpy()
    np.testing.assert_allclose(col["firm_age_years"], days / 365.25, rtol=1e-9)
    stage_map = engine.pd_config.encodings["stage"].levels
    np.testing.assert_array_equal(col["stage_ordinal"], joined["stage"].map(stage_map).to_numpy(dtype=float))


def test_an_unknown_category_names_field_and_value(trained_model: Any, applicants) -> None:
    engine = trained_model.engine
    joined = pd.concat([applicants, engine.score_points(applicants)], axis=1).head(3).copy()
    joined["srdi"] = ["none", "galactic", "none"]
    with pytest.raises(DataValidationError) as info:
        feature_matrix(joined, engine.pd_config)
    assert (info.value.field, info.value.value) == ("srdi", "galactic")


def test_one_applicant_alone_equals_its_batch_row(trained_model: Any, applicants, decided) -> None:
    # every cell, to the bit: the API decides concurrent requests together, so a firm's answer must not
    # depend on its neighbours (the scorecard of a blend sums its terms row by row, not by BLAS)
    engine = trained_model.engine
    for i in range(len(applicants)):  # all 300: a last-bit difference shows on a few rows only
        alone = engine.decide(applicants.iloc[[i]])
        row = decided.iloc[[i]]
        # a batch with any adverse row carries contribution columns; a favourable row has NaN there
        extra = [c for c in row.columns if c not in alone.columns]
        assert all(c.startswith("contrib_") for c in extra) and row[extra].isna().all(axis=None)
        pd.testing.assert_frame_equal(alone, row[alone.columns.tolist()], check_exact=True)


def test_decide_records_from_dicts_equals_deciding_the_frame(trained_model: Any, applicants) -> None:
    # given validated applicant dicts (what the API holds after pydantic)
    engine = trained_model.engine
    head = applicants.head(5)
    dicts = input_records(head, engine.fields.input_names)
    # when they are decided straight to records, together and one by one
    together = decide_records(engine, dicts)
    alone = [decide_records(engine, [d])[0] for d in dicts]
    # then the records equal those built from deciding the frame, and do not depend on the batch
    expected = decision_records(engine, engine.decide(head), input_records(head, engine.fields.input_names))
    assert together == expected
    # and hold plain JSON types only, exactly as stored and read back (numpy str == str, but replay and
    # hashing compare types too)
    assert _json_types(together) and _json_types(alone) and _json_types(expected)
    assert [r["risk"]["prob_default"] for r in together] == engine.decide(head)["prob_default"].tolist()
    for one, want in zip(alone, expected, strict=True):
        assert (one["decision"], one["limit"]["limit"], one["reason_codes"]) == (
            want["decision"],
            want["limit"]["limit"],
            want["reason_codes"],
        )
        assert one["input_sha256"] == want["input_sha256"]
        assert one["risk"]["prob_default"] == pytest.approx(want["risk"]["prob_default"], rel=1e-12)


def test_input_records_from_dicts_equal_the_frame_round_trip(trained_model: Any, applicants) -> None:
    from credit_points.api.schemas import applicant_model
    from credit_points.datasets.record import applicants_to_frame
    from credit_points.records import input_records_of

    # given applicants as the API holds them after pydantic (ints as ints, dates as text, None for missing),
    # some with optional values removed
    engine = trained_model.engine
    model = applicant_model()
    dicts = [
        model.model_validate(r).model_dump(mode="json")
        for r in input_records(applicants.head(60), engine.fields.input_names)
    ]
    for i, d in enumerate(dicts[::3]):
        d["orders_backlog"] = None
        if i % 2:
            d["equity_financing_3y"] = None
    # when the canonical inputs are built straight from the dicts and through the typed frame
    direct = input_records_of(dicts, engine.fields)
    via_frame = input_records(applicants_to_frame(dicts, engine.fields), engine.fields.input_names)
    # then they are equal, value and type, key for key (so input_sha256 is too)
    assert [sorted((k, type(v), v) for k, v in r.items()) for r in direct] == [
        sorted((k, type(v), v) for k, v in r.items()) for r in via_frame
    ]
    assert any(v is None for r in direct for v in r.values())


def _json_types(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(k) is str and _json_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_types(v) for v in value)
    return type(value) in (str, int, float, bool, type(None))


def test_compiled_expressions_pickle_and_do_not_warn() -> None:
    expr = compile_expression("safe_div(a, b, 0) + a / b if a > 0 else -a")
    env = {"a": np.array([1.0, 0.0, -2.0]), "b": np.array([0.0, 0.0, 4.0])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = expr.evaluate(env)
    again = pickle.loads(pickle.dumps(expr)).evaluate(env)
    np.testing.assert_array_equal(out, again)
    # hand maths: a / b with b == 0 is inf for a > 0; the else branch is -a
    assert out[0] == np.inf and out[1] == -0.0 and out[2] == 2.0
    assert isinstance(pickle.loads(pickle.dumps(expr)), Expression)


def test_points_arrays_rebuild_the_scored_frame(trained_model: Any, applicants) -> None:
    scorer = trained_model.engine._scorer
    head, block = scorer.score_arrays(applicants)
    pd.testing.assert_frame_equal(scorer.frame_of(applicants.index, head, block), scorer.score(applicants))
    assert block.shape == (len(scorer.float_columns), len(applicants))


def test_a_batch_decided_in_chunks_on_threads_equals_one_call(trained_model: Any, applicants, decided, monkeypatch):
    # given an engine on two LightGBM threads and a batch above the size that is split (lowered for the test)
    import copy
    import dataclasses

    import credit_points.engine as engine_module

    engine = dataclasses.replace(trained_model.engine, classifier=copy.copy(trained_model.engine.classifier))
    engine.set_threads(2)
    monkeypatch.setattr(engine_module, "PARALLEL_MIN_ROWS", 100)
    started = []
    real = engine_module.DecisionEngine._decide

    def spy(self, frame, explain):
        started.append((len(frame), self.classifier.num_threads))
        return real(self, frame, explain)

    monkeypatch.setattr(engine_module.DecisionEngine, "_decide", spy)
    # when it decides the 300 applicants, as a frame and as columns
    frame = engine.decide(applicants)
    columns = engine.decide_columns(applicants)
    # then two chunks of 150 were decided, each with a booster on one thread of its own
    assert started == [(150, 1)] * 4
    assert engine.classifier.num_threads == 2
    # and every cell is that of one call on the whole batch, to the bit (dtypes and index included)
    pd.testing.assert_frame_equal(frame, decided, check_exact=True)
    whole = trained_model.engine.decide_columns(applicants)
    assert list(columns) == list(whole)
    for name, value in whole.items():
        assert type(columns[name]) is type(value), name
        assert pd.Series(columns[name]).equals(pd.Series(value)), name
