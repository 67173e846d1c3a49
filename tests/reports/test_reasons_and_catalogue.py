"""A declined firm's report names its reasons; an approval without an adverse outcome shows none; every label exists."""

from __future__ import annotations

import re
from html import escape
from importlib import resources

import pytest

from credit_points.config import CONFIG_DIR, validate_file
from credit_points.exceptions import ConfigError
from credit_points.reports.loan import build_report, render_report
from credit_points.reports.messages import MessagesConfig, load_messages

from .conftest import parse_report


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_declined_report_names_its_reasons(sample_records, decided, lang):
    # given a declined firm
    record = sample_records["decline"]
    assert record["reason_codes"], "a decline without reasons in the record"
    # when its report is rendered
    html = render_report(record, decided.engine, "html", lang).decode("utf-8")
    # then each of the record's reason codes is listed, in order, with its plain-language text
    assert parse_report(html).reason_codes == [r["code"] for r in record["reason_codes"]]
    for reason in record["reason_codes"]:
        assert escape(reason[f"text_{lang}"]) in html
    assert load_messages().text("reasons.title.decline", lang) in html
    # and the products table names a failed rule for each product it is not eligible for
    sections = build_report(record, decided.engine, lang)
    for product in sections["products"]:
        if not product["eligible"]:
            assert product["failed_rules"] and all(r["text"] for r in product["failed_rules"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_approved_report_shows_no_adverse_reason_codes(sample_records, decided, lang):
    # given an approval whose record carries no reason codes
    record = sample_records["approve"]
    assert record["reason_codes"] == []
    # when rendered
    html = render_report(record, decided.engine, "html", lang).decode("utf-8")
    # then no reason code and no reasons heading appears
    assert parse_report(html).reason_codes == []
    assert 'id="reasons"' not in html
    for code in {c.code for c in decided.engine.reason_codes_config.entries()}:
        assert f'data-reason-code="{code}"' not in html


def test_every_template_message_is_in_the_catalogue():
    # given the templates' literal message keys
    catalogue = load_messages()
    keys = set()
    for name in ("loan.html.j2", "validation.html.j2"):
        text = (
            resources.files("credit_points.reports").joinpath("templates", name).read_text(encoding="utf-8")
        )
        keys |= set(re.findall(r"(?<![A-Za-z_.])t\('([a-z_.]+[a-z_])'", text))
    assert len(keys) > 50
    # then each exists in both languages
    missing = sorted(k for k in keys if not catalogue.has(k))
    assert missing == []


def test_catalogue_file_validates_and_refuses_half_messages():
    assert validate_file(CONFIG_DIR / "messages.yaml") == []
    base = {
        "kind": "messages",
        "version": "1",
        "money": {"zh": {"divisor": 10000, "decimals": 2, "unit": "万元"}},
    }
    with pytest.raises(ValueError, match="en"):
        MessagesConfig.model_validate({**base, "messages": {"a": {"zh": "甲"}}})
    with pytest.raises(ValueError, match="stability"):
        MessagesConfig.model_validate({**base, "messages": {}, "stability": {"amber": 0.3, "red": 0.1}})


def test_a_missing_message_is_named():
    with pytest.raises(ConfigError, match="no.such.key"):
        load_messages().text("no.such.key", "zh")
    with pytest.raises(ConfigError, match="lang"):
        load_messages().text("decision.approve", "fr")


def test_overrides_from_the_audit_log_are_shown(sample_records, decided):
    # given a record as the API's report route passes it: with the audit row and one officer override
    record = {
        **sample_records["decline"],
        "audit": {
            "decision_id": "a" * 32,
            "created_at": "2026-11-01T08:00:00Z",
            "overrides": [
                {
                    "decision_id": "b" * 32,
                    "created_at": "2026-11-02T09:00:00Z",
                    "officer": "王审批",
                    "reason": "补充担保",
                    "scope": "limit",
                    "new_values": {"limit": 300000},
                }
            ],  # fmt: skip
        },
    }
    # when rendered
    html = render_report(record, decided.engine, "html", "zh").decode("utf-8")
    # then the header names the stored decision and the override is shown with officer, reason and values
    assert "a" * 32 in html
    assert 'data-override="' + "b" * 32 + '"' in html
    assert "王审批" in html and "补充担保" in html and "300000" in html
    assert load_messages().text("override.title", "zh") in html
