"""Report fixtures: decision records of the session's trained model, one per outcome, and helpers to read reports."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pandas as pd
import pytest


@dataclass
class Decided:
    """The latest cohort decided by the session engine, as the API records it (contributions on adverse rows)."""

    engine: Any
    frame: pd.DataFrame
    records: list[dict[str, Any]]

    def first(self, decision: str, *, with_reasons: bool | None = None) -> dict[str, Any]:
        for record in self.records:
            if record["decision"] != decision:
                continue
            if with_reasons is None or bool(record["reason_codes"]) == with_reasons:
                return record
        raise LookupError(f"no {decision} record (with_reasons={with_reasons}) in the sample")


@pytest.fixture(scope="session")
def decided(trained_model: Any) -> Decided:
    from credit_points.datasets.schema import validate_applicants
    from credit_points.records import decision_records, input_records

    engine = trained_model.engine
    applicants = trained_model.applicants
    latest = applicants[applicants["as_of_date"] == applicants["as_of_date"].max()]
    if len(latest) < 200:
        latest = applicants[applicants["as_of_date"].dt.year == applicants["as_of_date"].dt.year.max()]
    good, _ = validate_applicants(latest.head(1500).reset_index(drop=True))
    frame = engine.decide(good, explain="adverse")
    records = decision_records(engine, frame, input_records(good, engine.fields.names))
    return Decided(engine, frame, records)


@pytest.fixture(scope="session")
def sample_records(decided: Decided) -> dict[str, dict[str, Any]]:
    """One record per outcome: an approval without reasons, an approval with a cut limit, a refer, a decline."""
    out = {
        "approve": decided.first("approve", with_reasons=False),
        "decline": decided.first("decline"),
    }
    for name, (decision, reasons) in {"approve_cut": ("approve", True), "refer": ("refer", None)}.items():
        with contextlib.suppress(LookupError):
            out[name] = decided.first(decision, with_reasons=reasons)
    return out


class NumberSpans(HTMLParser):
    """Collects ``data-field`` / ``data-derived`` numbers, reason codes and section ids of a report page."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, Any]] = []
        self.derived: list[tuple[str, Any]] = []
        self.reason_codes: list[str] = []
        self.attrs_seen: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.attrs_seen.append(a)
        if "data-field" in a:
            self.fields.append((str(a["data-field"]), json.loads(str(a["data-value"]))))
        if "data-derived" in a:
            self.derived.append((str(a["data-derived"]), json.loads(str(a["data-value"]))))
        if "data-reason-code" in a:
            self.reason_codes.append(str(a["data-reason-code"]))


def parse_report(html: str) -> NumberSpans:
    parser = NumberSpans()
    parser.feed(html)
    return parser


def resolve(tree: Any, path: str) -> Any:
    """The value at a dotted path (list positions as integers)."""
    node = tree
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node
