#!/usr/bin/env bash
# The MLflow tracking server: PostgreSQL backend (database $MLFLOW_DB), artifacts served from a volume.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

MLFLOW_BACKEND_STORE_URI=$(postgres_url "${MLFLOW_DB:-mlflow}")
export MLFLOW_BACKEND_STORE_URI  # read by `mlflow server` from the environment (not an argument)
wait_for_postgres MLFLOW_BACKEND_STORE_URI
exec mlflow server \
  --host "${MLFLOW_SERVER_HOST:-0.0.0.0}" \
  --port "${MLFLOW_SERVER_PORT:-5000}" \
  --artifacts-destination "${MLFLOW_ARTIFACTS_DESTINATION:-/srv/credit-points/mlartifacts}" \
  --serve-artifacts \
  --allowed-hosts "${MLFLOW_SERVER_ALLOWED_HOSTS:-mlflow:5000,localhost:5000,127.0.0.1:5000}"
