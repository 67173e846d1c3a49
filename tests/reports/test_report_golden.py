"""Reports stay byte-identical to the saved ones: a refactoring of the report builders changes no byte.

The saved reports (``golden/``) are the JSON and HTML reports, in Chinese and English, of three records of
the session's trained model: an approval, a decline with reason codes, and a decision an officer has
overridden. Only what legitimately changes between two trainings of the same data is masked: the MLflow
run id, the artifact hash, the model's training timestamps and the print date.

To accept an intended change of the reports, rewrite the saved files and review their diff::

    CREDIT_POINTS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/reports/test_report_golden.py
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
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


def _records(decided: Any) -> dict[str, dict[str, Any]]:
    approve = copy.deepcopy(decided.first("approve", with_reasons=False))
    decline = copy.deepcopy(decided.first("decline"))
    overridden = copy.deepcopy(decided.first("approve", with_reasons=True))
    approve["audit"] = {**_AUDIT, "overrides": []}
    decline["audit"] = {**_AUDIT, "overrides": []}
    overridden["audit"] = {**_AUDIT, "overrides": [_OVERRIDE]}
    return {"approve": approve, "decline": decline, "override": overridden}


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
    if got != want:
        at = _first_difference(got, want)
        pytest.fail(f"{path.name} differs at character {at}: got {got[at - 80 : at + 80]!r}, "
                    f"saved {want[at - 80 : at + 80]!r}")  # fmt: skip


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
