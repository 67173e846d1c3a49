#!/usr/bin/env bash
# The decision API: waits for PostgreSQL (the audit store) and MLflow (the registry), then serves.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CREDIT_POINTS_AUDIT_URL=$(postgres_url "${AUDIT_DB:-credit_points_audit}")
export CREDIT_POINTS_AUDIT_URL
wait_for_postgres CREDIT_POINTS_AUDIT_URL
# without the registry the API still serves its verified local copy of the model (after a restart)
wait_for_http "${CREDIT_POINTS_TRACKING_URI:?set CREDIT_POINTS_TRACKING_URI}/health" ||
  echo "warning: MLflow does not answer; serving the verified local copy of the model if there is one" >&2
exec credit-points serve --host "${CREDIT_POINTS_HOST:-0.0.0.0}" --port "${CREDIT_POINTS_PORT:-8000}"
