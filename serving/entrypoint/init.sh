#!/usr/bin/env bash
# One-shot: the audit tables, then a first champion in the tracking server when it has none
# (`credit-points bootstrap`: generate, train, gate, register). Safe to run again: it then does nothing.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CREDIT_POINTS_AUDIT_URL=$(postgres_url "${AUDIT_DB:-credit_points_audit}")
export CREDIT_POINTS_AUDIT_URL
wait_for_postgres CREDIT_POINTS_AUDIT_URL
wait_for_http "${CREDIT_POINTS_TRACKING_URI:?set CREDIT_POINTS_TRACKING_URI}/health"
credit-points audit init
exec credit-points bootstrap --firms "${CREDIT_POINTS_BOOTSTRAP_FIRMS:-8000}" \
  --seed "${CREDIT_POINTS_BOOTSTRAP_SEED:-7}"
