"""Prometheus metrics of the API: requests, latency, decisions, batch sizes, audit writes, overload rejections.

Each app owns its registry (tests build many apps in one process). With several worker processes set
``PROMETHEUS_MULTIPROC_DIR`` (``credit-points serve`` does) and ``/metrics`` aggregates every worker.
Labels never carry request data: routes are templates (``/v1/decisions/{decision_id}``), not paths.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prom_multiprocess

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The API's metric families, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "credit_points_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "credit_points_http_request_duration_seconds",
            "Time from request to the end of the response.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "credit_points_http_in_flight",
            "Requests being served now.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.overload = Counter(
            "credit_points_overload_rejections",
            "Requests refused with 503 by the concurrency limit.",
            registry=r,
        )
        self.decisions = Counter(
            "credit_points_decisions", "Decisions stored and answered, by outcome.", ["decision"], registry=r
        )
        self.audit_rows = Counter(
            "credit_points_audit_rows_written", "Audit rows committed.", ["kind"], registry=r
        )
        self.audit_failures = Counter(
            "credit_points_audit_failures",
            "Requests answered 503 because the audit store failed.",
            registry=r,
        )
        self.decision_batch = Histogram(
            "credit_points_decision_batch_size",
            "Single-decision requests decided together in one engine call (micro-batching).",
            buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
            registry=r,
        )
        self.validation_errors = Counter(
            "credit_points_validation_errors", "Requests or batch rows refused as invalid input.", registry=r
        )
        self.shadow = Counter(
            "credit_points_shadow_decisions",
            "Decisions handed to the shadow challenger, by what became of them (decided, failed, dropped).",
            ["outcome"],
            registry=r,
        )

    def render(self) -> bytes:
        """The exposition text: this process's metrics, or every worker's in multiprocess mode."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory and os.path.isdir(directory):
            registry = CollectorRegistry()
            prom_multiprocess.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry)
        return generate_latest(self.registry)
