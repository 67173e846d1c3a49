"""Every number a report prints equals the decision record (or the JSON report's derived sections) exactly."""

from __future__ import annotations

import copy
import json

import pytest

from credit_points.exceptions import DataValidationError
from credit_points.reports.loan import build_report, render_report

from .conftest import parse_report, resolve

CORE_FIELDS = {"limit.limit", "limit.rate", "limit.expected_loss", "limit.expected_loss_net", "points.total",
               "risk.prob_default", "risk.raw_score", "points.core"}  # fmt: skip


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("which", ["approve", "decline", "approve_cut", "refer"])
def test_html_numbers_equal_the_record(sample_records, decided, which, lang):
    # given a stored decision record
    if which not in sample_records:
        pytest.skip(f"no {which} decision in the sample")
    record = sample_records[which]
    pristine = copy.deepcopy(record)
    # when its report is rendered as HTML and as JSON
    html = render_report(record, decided.engine, "html", lang).decode("utf-8")
    body = json.loads(render_report(record, decided.engine, "json", lang))
    spans = parse_report(html)
    # then every record number printed is the record's value, bit for bit
    assert {path for path, _ in spans.fields} >= CORE_FIELDS
    for path, value in spans.fields:
        assert resolve(record, path) == value, path
    # and every derived number is the JSON report's value
    assert spans.derived
    for path, value in spans.derived:
        assert resolve(body["report"], path) == value, path
    # and the JSON report carries the record unchanged, which rendering did not touch
    assert body["record"] == pristine
    assert record == pristine


def test_waterfall_and_indicators_cover_the_record(sample_records, decided):
    # given an approved record
    record = sample_records["approve"]
    # when rendered
    spans = parse_report(render_report(record, decided.engine, "html", "zh").decode("utf-8"))
    printed = dict(spans.fields)
    # then each waterfall step and each indicator's value, percentile and points are printed
    for k, step in enumerate(record["limit"]["waterfall"]):
        assert printed[f"limit.waterfall.{k}.value"] == step["value"]
    for k, ind in enumerate(record["points"]["indicators"]):
        for key in ("value", "pct", "points"):
            assert printed[f"points.indicators.{k}.{key}"] == ind[key]
    for cat, value in record["points"]["categories"].items():
        assert printed[f"points.categories.{cat}"] == value


def test_binding_step_is_the_records_binding_constraint(sample_records, decided):
    # given an approval whose limit was set by a waterfall step
    record = sample_records["approve"]
    # when the report's sections are built
    sections = build_report(record, decided.engine, "en")
    # then exactly the binding step is highlighted and it names the record's constraint
    flagged = [s["step"] for s in sections["outcome"]["waterfall"] if s["binding"]]
    binding = record["limit"]["binding_constraint"]
    expected = {"min_limit": "rounding"}.get(binding, binding)
    assert flagged == [expected]


def test_money_is_in_wan_yuan_for_chinese_and_yuan_for_english(sample_records, decided):
    # given an approved record with a limit
    record = sample_records["approve"]
    limit = record["limit"]["limit"]
    # when rendered in both languages
    zh = render_report(record, decided.engine, "html", "zh").decode("utf-8")
    en = render_report(record, decided.engine, "html", "en").decode("utf-8")
    # then the limit prints as 万元 (two decimals) in Chinese and whole yuan in English
    assert f"{limit / 10000:,.2f} 万元" in zh
    assert f"{limit:,.0f} yuan" in en


def test_stage_benchmarks_come_from_the_reference_quantiles(sample_records, decided):
    # given a record and the engine's pinned reference
    record = sample_records["approve"]
    engine = decided.engine
    stage = record["points"]["stage"]
    sections = build_report(record, engine, "en")
    # then each indicator's median and P75 are the reference quantiles (P75 of a lower-is-better one is its P25)
    for ind in sections["points"]["indicators"]:
        spec = engine.points_config.indicator_by_id[ind["id"]]
        if not engine.reference.uses_quantiles(stage, ind["id"]):
            assert ind["median_value"] is None
            continue
        p75 = 0.75 if spec.direction == "higher" else 0.25
        assert ind["median_value"] == engine.reference.quantile(stage, ind["id"], 0.5)
        assert ind["p75_value"] == engine.reference.quantile(stage, ind["id"], p75)


def test_a_record_that_is_not_a_decision_is_refused(decided):
    # given something that is not a decision record
    # when rendered, then the error names the field
    with pytest.raises(DataValidationError, match="schema"):
        render_report({"schema": "other/1"}, decided.engine, "html", "zh")
    with pytest.raises(DataValidationError, match="format"):
        render_report({"schema": "credit-points-decision/1"}, decided.engine, "docx", "zh")


def test_unknown_language_is_refused(sample_records, decided):
    with pytest.raises(DataValidationError, match="lang"):
        render_report(sample_records["approve"], decided.engine, "html", "fr")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_pd_referral_shows_its_trigger_value_and_threshold_where_they_differ(decided, lang) -> None:
    # given a firm referred because its PD is just above its product's referral line
    record = copy.deepcopy(
        next(r for r in decided.records if (r.get("trigger") or {}).get("kind") == "pd_refer_band")
    )
    threshold = record["trigger"]["threshold"]
    record["trigger"]["value"] = record["risk"]["prob_default"] = threshold + 2e-6  # 3.0002 % against 3 %
    # when its report is rendered
    html = render_report(record, decided.engine, "html", lang).decode("utf-8")
    spans = dict(parse_report(html).fields)
    # then the trigger comes first with both numbers, at a precision that shows the PD is above the line
    assert spans["trigger.value"] == record["trigger"]["value"] and spans["trigger.threshold"] == threshold
    shown = f"{threshold * 100 + 2e-4:.4f}%"
    assert shown in html and f"{threshold * 100:.4f}%" in html
    assert html.index('data-trigger="pd_refer_band"') < html.index('id="reasons"')


def test_very_large_amounts_read_in_yi_yuan_in_chinese(decided) -> None:
    # given a record whose capacity is 417,586,400 yuan
    record = copy.deepcopy(decided.first("approve", with_reasons=False))
    record["limit"]["waterfall"][0]["value"] = 417_586_400.0
    # when rendered in Chinese and in English
    zh = render_report(record, decided.engine, "html", "zh").decode("utf-8")
    en = render_report(record, decided.engine, "html", "en").decode("utf-8")
    # then Chinese reads 4.18 亿元 (not 41,758.64 万元) and English whole yuan
    assert "4.18 亿元" in zh and "41,758.64" not in zh
    assert "417,586,400 yuan" in en


def test_model_limitations_print_once_in_the_reports_language(decided) -> None:
    record = decided.first("approve", with_reasons=False)
    zh = render_report(record, decided.engine, "html", "zh").decode("utf-8")
    en = render_report(record, decided.engine, "html", "en").decode("utf-8")
    assert "模型以所列期间的数据训练" in zh and "Trained on the cohorts listed" not in zh
    assert en.count("Trained on the cohorts listed") == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_decline_without_a_calculated_limit_says_why_instead_of_a_waterfall_of_zeros(decided, lang) -> None:
    # given a decline on eligibility, a veto or the PD cut-off (every waterfall step is 0)
    record = next(
        r for r in decided.records
        if r["decision"] == "decline" and not any(s["value"] for s in r["limit"]["waterfall"])
    )  # fmt: skip
    html = render_report(record, decided.engine, "html", lang).decode("utf-8")
    # then no six-row table of zeros, but the reason there is no limit, with the rule that declined it
    assert 'data-step="capacity"' not in html
    assert "data-no-limit" in html
    first = record["reason_codes"][0]
    assert (first["text_zh"] if lang == "zh" else first["text_en"]) in html.split("data-no-limit", 1)[1][:600]


def test_grade_labels_are_one_neutral_set_in_both_languages(decided) -> None:
    # no loan-classification words (关注, 次级, substandard) on the master scale, in either language
    record = decided.first("approve", with_reasons=False)
    for lang in ("zh", "en"):
        bands = build_report(record, decided.engine, lang)["risk"]["master_scale"]
        labels = " ".join(b["label"] for b in bands)
        assert not any(word in labels for word in ("关注", "次级", "substandard", "elevated"))
    zh = [b["label"] for b in build_report(record, decided.engine, "zh")["risk"]["master_scale"]]
    en = [b["label"] for b in build_report(record, decided.engine, "en")["risk"]["master_scale"]]
    assert len(set(zh)) == len(zh) == len(set(en)) == len(en)


def test_a_lower_is_better_weak_spot_stands_where_it_scores(decided) -> None:
    # given records whose weak spots include a lower-is-better percentile indicator (debt to assets)
    engine = decided.engine
    cfg = engine.points_config
    lower = {i.id for i in cfg.indicators if i.kind == "percentile" and i.direction == "lower"}
    found = 0
    for record in decided.records[:300]:
        spots = build_report(record, engine, "en")["help"]["weak_spots"]
        for spot in spots:
            entry = record["points"]["indicators"][spot["index"]]
            spec = cfg.indicator_by_id[spot["id"]]
            if spot["id"] in lower and entry["pct"] is not None:
                # then its standing is the percentile turned the way that scores, not the raw one
                assert spot["standing"] == pytest.approx(1.0 - entry["pct"])
                found += 1
            elif spec.kind != "percentile":
                # and an indicator scored by tiers or flags shows its points, no percentile
                assert spot["standing"] is None and spot["points"] == entry["points"]
    assert found > 0
