"""Settings of the API process: the shared ``Settings`` plus the knobs only the server has (``CREDIT_POINTS_*``)."""

from __future__ import annotations

from pydantic import Field

from credit_points.config import Settings

DEFAULT_SERVICE_FACTORY = "credit_points.pipelines.engine_service:create_service"
"""The decision engine behind the API: resolves ``model_uri`` to a verified local bundle at start-up."""


class ApiSettings(Settings):
    """Deployment settings of the API (environment or ``.env``; never business numbers).

    Inherits the audit URL, model URI, body-size and concurrency limits from
    :class:`~credit_points.config.Settings`.
    """

    service_factory: str | None = Field(
        default=DEFAULT_SERVICE_FACTORY,
        description="'module:callable' building the DecisionService from the settings (the engine by default).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=2, ge=1, le=64)
    max_batch: int = Field(
        default=1000, ge=1, le=100_000, description="Most applicants in one batch request."
    )
    micro_batch: int = Field(
        default=32,
        ge=1,
        le=1000,
        description="Most concurrent POST /v1/decisions requests one worker decides in one engine call and "
        "commits in one transaction (1: each alone). Batches form only from requests already waiting.",
    )
    micro_batch_wait_ms: float = Field(
        default=2.0,
        ge=0,
        le=100,
        description="Longest a batch waits for requests this worker has accepted but not yet validated.",
    )
    max_batch_body_bytes: int = Field(
        default=8_000_000,
        ge=1,
        description="Body-size limit of the batch endpoint (max_body_bytes elsewhere).",
    )
    graceful_timeout_s: float = Field(
        default=30.0, gt=0, description="How long SIGTERM waits for in-flight requests."
    )
    keep_alive_s: float = Field(default=5.0, gt=0)
    audit_table_prefix: str = Field(
        default="", description="Prefix of the audit tables (several stores in one database)."
    )
    api_key_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a worker remembers an accepted API key (0: ask the database every time); "
        "a key revoked elsewhere stops working within this time.",
    )
    audit_timeout_s: float = Field(
        default=5.0, gt=0, description="Connect and lock timeout of the audit store."
    )
    audit_min_free_mb: float = Field(
        default=8.0,
        ge=0,
        description="Readiness turns 503 (disk_full) when the filesystem of an SQLite audit database has "
        "less free space than this.",
    )
    audit_failure_hold_s: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="Readiness stays 503 (write_failed) this long after the audit store refused a write.",
    )
    body_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Longest a request may take to send its body; a client that stalls is answered 408 "
        "and loses its concurrency slot.",
    )
    max_concurrency_per_key: int = Field(
        default=32,
        ge=1,
        description="Most concurrent /v1 and /admin requests presenting one credential (429 above it), so "
        "one client cannot hold every slot of max_concurrency.",
    )
    trusted_hosts: str = Field(
        default="*",
        description="Comma-separated Host header values the API answers (e.g. 'api.bank.internal,"
        "10.0.0.5'); '*' accepts any. Other hosts get 400.",
    )
    override_policy: str | None = Field(
        default=None,
        description="The override policy file (four-eyes sizes, override reason codes); default "
        "configs/policy/overrides.yaml.",
    )
    model_sync_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often each worker checks the audit database for a model another worker reloaded, "
        "and reports its own version (GET /v1/model lists every worker).",
    )
    reload_wait_s: float = Field(
        default=10.0,
        ge=0,
        le=120,
        description="How long POST /admin/reload waits for every live worker to serve the new version.",
    )


def as_api_settings(settings: Settings | None) -> ApiSettings:
    """``settings`` as :class:`ApiSettings` (read from the environment when ``None``)."""
    if settings is None:
        return ApiSettings()
    if isinstance(settings, ApiSettings):
        return settings
    return ApiSettings(**settings.model_dump())
