"""Reports stay byte-identical to the saved ones: a refactoring of the report builders changes no byte.

The saved reports (``golden/``) are the JSON and HTML reports, in Chinese and English, of three records of
the session's trained model: an approval, a decline with reason codes, and a decision an officer has
overridden. Only what legitimately changes between two trainings of the same data is masked: the MLflow
run id, the artifact hash, the model's training timestamps and the print date; floats written with more
than 12 significant digits are compared at 12 (the last bits of a log-odds differ between CPUs).

To accept an intended change of the reports, rewrite the saved files and review their diff::

    CREDIT_POINTS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/reports/test_report_golden.py
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import html
import os
import re
from pathlib import Path
from typing import Any

import pytest

from credit_points.reports.loan import render_report

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CREDIT_POINTS_UPDATE_GOLDEN") == "1"
_AUDIT = {"decision_id": "01JABCDEFGHJKMNPQRSTVWXYZ0", "created_at": "2026-01-05T09:30:00.000000Z"}
_OVERRIDE = {
    "decision_id": "01JABCDEFGHJKMNPQRSTVWXYZ1",
    "created_at": "2026-01-06T10:00:00.000000Z",
    "officer": "officer-017",
    "reason": "抵押补充 / collateral added",
    "scope": "limit",
    "new_values": {"limit": 1_500_000.0},
}


def _masks(engine: Any) -> dict[str, str]:
    """Values that differ between two trainings of the same data, and their placeholders."""
    identity = engine.identity
    masks = {identity.artifact_hash: "<artifact-hash>", identity.run_id: "<run-id>"}
    masks[dt.date.today().isoformat()] = "<today>"
    for key in ("trained_at", "created_at", "registered_at"):
        value = (engine.model_card or {}).get(key)
        if isinstance(value, str) and value:
            masks[value] = f"<{key}>"
    return {k: v for k, v in masks.items() if k}


def _masked(text: str, masks: dict[str, str]) -> str:
    for value in sorted(masks, key=len, reverse=True):
        text = text.replace(value, masks[value])
    return re.sub(r"\b[0-9a-f]{32}\b", "<hex32>", text)  # MLflow run ids reached through other paths


_LONG_FLOAT = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def _to_12_digits(text: str) -> str:
    """Floats written with more than 12 significant digits, at 12: a model trained on another CPU (another
    SIMD width in BLAS and LightGBM) differs in the last bits of a log-odds, which no report shows and no
    decision turns on; every figure a report shows is printed at far fewer digits and compared exactly."""

    def short(match: re.Match[str]) -> str:
        digits = len(re.sub(r"\D", "", match.group(0).split("e")[0]).lstrip("0"))
        return format(float(match.group(0)), ".12g") if digits > 12 else match.group(0)

    return _LONG_FLOAT.sub(short, text)


def _records(decided: Any) -> dict[str, dict[str, Any]]:
    approve = copy.deepcopy(decided.first("approve", with_reasons=False))
    decline = copy.deepcopy(decided.first("decline"))
    overridden = copy.deepcopy(decided.first("approve", with_reasons=True))
    approve["audit"] = {**_AUDIT, "overrides": []}
    decline["audit"] = {**_AUDIT, "overrides": []}
    overridden["audit"] = {**_AUDIT, "overrides": [_OVERRIDE], **_history(overridden)}
    return {"approve": approve, "decline": decline, "override": overridden}


def _history(record: dict[str, Any]) -> dict[str, Any]:
    """An approved four-eyes override and a rejected one, as ``GET /v1/decisions/{id}`` shows them."""
    before = {"decision": record["decision"], "limit": record["limit"]["limit"]}
    approved = {
        "id": _OVERRIDE["decision_id"],
        "kind": "override",
        "created_at": _OVERRIDE["created_at"],
        "status": "approved",
        "actor": {"key_id": "0a1b2c3d4e5f", "owner": "officer-017"},
        "officer_name": "王敏",
        "reason_code": "O01",
        "reason_code_text": {
            "zh": "补充提供抵质押或保证担保",
            "en": "Additional collateral or guarantee provided",
        },
        "reason": _OVERRIDE["reason"],
        "before": before,
        "after": {**before, "limit": 1_500_000.0},
        "new_values": {"limit": 1_500_000.0},
        "four_eyes": ["decline_to_approve"],
        "reviewed_by": {"key_id": "5f4e3d2c1b0a", "owner": "approver-009"},
        "reviewed_at": "2026-01-06T11:00:00.000000Z",
    }
    rejected = {
        **approved, "id": "01JABCDEFGHJKMNPQRSTVWXYZ3", "created_at": "2026-01-07T09:00:00.000000Z",
        "status": "rejected", "before": approved["after"], "after": {**before, "limit": 9_000_000.0},
        "new_values": {"limit": 9_000_000.0}, "reason_code": "O03", "reviewed_at": "2026-01-07T10:00:00.000000Z",
        "reason_code_text": {"zh": "政府风险补偿或政策性担保覆盖", "en": "Covered by a government risk-compensation scheme or policy guarantee"},
    }  # fmt: skip
    in_force = {"decision": record["decision"], "limit": 1_500_000.0, "product": record["limit"]["product"],
                "by": approved["id"]}  # fmt: skip
    return {"history": [approved, rejected], "in_force": in_force}


def test_an_override_reads_in_the_officers_language(decided) -> None:
    record = _records(decided)["override"]
    for lang, wanted in (
        ("zh", ["现行有效决策", "额度", "150.00 万元", "officer-017 (经办人 王敏)", "O01 补充提供抵质押或保证担保",
                "经复核批准后生效 (复核人 approver-009", "复核驳回，未生效"]),
        ("en", ["Decision in force", "1,500,000 yuan", "officer-017 (officer 王敏)",
                "O01 Additional collateral or guarantee provided", "in force after a second officer's approval (reviewed by approver-009",
                "rejected by a second officer, never in force"]),
    ):  # fmt: skip
        text = html.unescape(
            re.sub(r"<[^>]+>", "", render_report(record, decided.engine, "html", lang).decode())
        )
        text = re.sub(r"\s+", " ", text)
        for phrase in wanted:
            assert phrase in text, (lang, phrase)
        assert "new_values" not in text and '{"limit"' not in text  # no raw JSON


@pytest.mark.parametrize("fmt", ["json", "html"])
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("which", ["approve", "decline", "override"])
def test_report_is_byte_identical_to_the_saved_one(decided, which, lang, fmt):
    # given a fixture record (with its audit section) and the engine that decided it
    record = _records(decided)[which]
    # when its report is rendered
    text = render_report(record, decided.engine, fmt, lang).decode("utf-8")
    got = _masked(text, _masks(decided.engine))
    # then it equals the saved report byte for byte (after masking what a retraining changes)
    path = GOLDEN / f"{which}.{lang}.{fmt}.gz"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(gzip.compress(got.encode("utf-8"), mtime=0))
    want = gzip.decompress(path.read_bytes()).decode("utf-8")
    got, want = _to_12_digits(got), _to_12_digits(want)
    if got != want:
        at = _first_difference(got, want)
        pytest.fail(f"{path.name} differs at character {at}: got {got[at - 80 : at + 80]!r}, "
                    f"saved {want[at - 80 : at + 80]!r}")  # fmt: skip


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
