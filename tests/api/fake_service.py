"""A small, deterministic DecisionService that isolates the HTTP layer in tests (not the engine).

Its arithmetic is simple on purpose so tests can recompute it independently. Behaviour switches come from
the environment so the same class serves in-process tests and a uvicorn subprocess
(``CREDIT_POINTS_SERVICE_FACTORY=fake_service:build`` with ``tests/api`` on ``PYTHONPATH``):

- ``FAKE_DECIDE_DELAY_S``: sleep this long in ``decide`` (overload and graceful-shutdown tests);
- ``FAKE_NOT_READY``: report not ready with this reason;
- ``FAKE_SLOW_S``: how long ``decide`` sleeps for an applicant whose ``zone`` is ``"slow"`` (default 1 s).

A ``firm_id`` of ``FAIL_FIRM_ID`` makes ``decide`` raise an unexpected error whose message carries the
applicant's name and credit code (the canary for logs and 500 bodies).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from typing import Any

from credit_points.exceptions import ModelError

FAIL_FIRM_ID = "91350100M000100Y43"


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def fake_prob_default(applicant: dict[str, Any]) -> float:
    """A logistic toy PD: more overdue days and penalties raise it, patents lower it."""
    z = (
        -3.0
        + 0.02 * (applicant.get("max_overdue_days_24m") or 0)
        + 0.4 * applicant["admin_penalties_2y"]
        - 0.05 * applicant["invention_patents_valid"]
    )
    return 1.0 / (1.0 + math.exp(-z))


class FakeDecisionService:
    """Implements credit_points.api.service.DecisionService with toy arithmetic."""

    def __init__(self, version: str = "3") -> None:
        self.version = version
        self.decide_calls = 0
        self.reloads: list[str | None] = []
        self._lock = threading.Lock()
        self.delay_s = float(os.environ.get("FAKE_DECIDE_DELAY_S", "0") or 0)
        self.not_ready = os.environ.get("FAKE_NOT_READY") or None

    def ready(self) -> tuple[bool, str]:
        if self.not_ready:
            return False, self.not_ready
        return True, "serving"

    def override_limits(self, record: dict[str, Any]) -> dict[str, Any]:
        """The fake's one product: a cap of 10 million yuan in units of 10,000 (declines name no product)."""
        product = (record.get("limit") or {}).get("product")
        if product is None:
            return {"product": None, "cap": 0.0, "rounding_unit": 0.0}
        return {"product": product, "cap": 10_000_000.0, "rounding_unit": 10_000.0}

    def _decide_one(self, applicant: dict[str, Any]) -> dict[str, Any]:
        prob_default = fake_prob_default(applicant)
        capacity = min(0.3 * applicant["revenue"], 7 * applicant["tax_paid"])
        limit = math.floor(capacity / 10000.0) * 10000.0 if prob_default < 0.2 else 0.0
        decision = "approve" if prob_default < 0.05 else ("refer" if prob_default < 0.2 else "decline")
        return {
            "input": applicant,
            "input_sha256": hashlib.sha256(_canonical(applicant).encode()).hexdigest(),
            "points": {"config_version": "test-1.0", "config_hash": "1" * 64, "points_total": 101.25},
            "model": {
                "name": "fake-model",
                "version": self.version,
                "artifact_hash": hashlib.sha256(f"artifact-{self.version}".encode()).hexdigest(),
                "feature_order_hash": "2" * 64,
            },
            "risk": {"prob_default": prob_default, "grade": "B" if prob_default < 0.05 else "C"},
            "limit": {
                "limit": limit,
                "binding_constraint": "capacity",
                "product": "fake_loan" if decision != "decline" else None,
            },
            "decision": decision,
            "reason_codes": [] if decision == "approve" else ["R01"],
        }

    def decide(self, applicants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self._lock:
            self.decide_calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if any(a.get("zone") == "slow" for a in applicants):
            time.sleep(float(os.environ.get("FAKE_SLOW_S", "1.0")))
        for applicant in applicants:
            if applicant["firm_id"] == FAIL_FIRM_ID:
                raise RuntimeError(f"engine exploded on {applicant['name']} ({applicant['firm_id']})")
        return [self._decide_one(a) for a in applicants]

    def points(self, applicants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"stage": "growth", "points_total": 101.25, "firm_stage_rank": 3} for _ in applicants]

    def model_card(self) -> dict[str, Any]:
        return {"name": "fake-model", "version": self.version, "validation": {"auc_oot": 0.8}}

    def model_version(self) -> str:
        return self.version

    def reload(self, model_uri: str | None) -> dict[str, Any]:
        self.reloads.append(model_uri)
        if model_uri and "bad" in model_uri:
            raise ModelError("golden predictions differ by 0.3")
        previous, self.version = self.version, str(int(self.version) + 1)
        return {"previous_version": previous, "version": self.version}

    def render_report(self, record: dict[str, Any], fmt: str, lang: str) -> tuple[bytes, str]:
        if fmt == "json":
            return _canonical(record).encode(), "application/json"
        title = "决策报告" if lang == "zh" else "Decision report"
        return (
            f"<html><h1>{title}</h1><p>{record['decision']}</p></html>".encode(),
            "text/html; charset=utf-8",
        )

    def replay(self, record: dict[str, Any]) -> dict[str, Any]:
        return self._decide_one(record["input"])


class HangingDecisionService(FakeDecisionService):
    """A shadow that loads but never finishes deciding (``model_uri`` ``fake:hang``)."""

    def decide(self, applicants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        time.sleep(3600)
        return super().decide(applicants)


def build(settings: Any) -> FakeDecisionService:
    """The factory named by ``CREDIT_POINTS_SERVICE_FACTORY=fake_service:build``; a shadow (the same factory
    with the shadow's URI) named ``fake:hang`` hangs in ``decide``, ``fake:9`` is version 9."""
    uri = str(getattr(settings, "model_uri", "") or "")
    if uri == "fake:hang":
        return HangingDecisionService("8")
    if uri == "fake:9":
        return FakeDecisionService("9")
    return FakeDecisionService()
