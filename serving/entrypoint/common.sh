#!/usr/bin/env bash
# Shared by the image's entrypoints (sourced): secrets read from files, URLs built inside the process
# environment — a password never appears on a command line (`ps`, /proc/<pid>/cmdline) or in compose.yaml.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) stops the script too

# secret NAME: the content of the file named by $NAME_FILE (compose or Kubernetes secrets), else $NAME.
secret() {
  local name=$1 file_var="${1}_FILE"
  if [[ -n "${!file_var:-}" ]]; then
    if [[ ! -r "${!file_var}" ]]; then
      echo "error: ${file_var}: cannot read ${!file_var}" >&2
      return 1
    fi
    local value
    value=$(<"${!file_var}")  # without the trailing newline an editor adds
    printf '%s' "$value"
  elif [[ -n "${!name:-}" ]]; then
    printf '%s' "${!name}"
  else
    echo "error: set ${file_var} (a file holding the value) or ${name}" >&2
    return 1
  fi
}

# quote: stdin percent-encoded for a URL's user or password part (read from stdin, never from argv).
quote() {
  python -c 'import sys, urllib.parse; sys.stdout.write(urllib.parse.quote(sys.stdin.read(), safe=""))'
}

# postgres_url DB: the SQLAlchemy URL of database DB on $POSTGRES_HOST:$POSTGRES_PORT as $POSTGRES_USER.
postgres_url() {
  local user password
  user=$(printf '%s' "${POSTGRES_USER:-credit_points}" | quote) || return 1
  password=$(secret POSTGRES_PASSWORD | quote) || return 1
  printf 'postgresql+psycopg://%s:%s@%s:%s/%s' "$user" "$password" "${POSTGRES_HOST:-postgres}" \
    "${POSTGRES_PORT:-5432}" "$1"
}

# wait_for_postgres VAR: until the database whose URL is in the variable VAR accepts a connection
# (at most $CREDIT_POINTS_WAIT_S seconds, default 120).
wait_for_postgres() {
  WAIT_URL_VAR=$1 python - <<'PY'
import os, sys, time

import sqlalchemy

url = os.environ[os.environ["WAIT_URL_VAR"]]
deadline = time.monotonic() + float(os.environ.get("CREDIT_POINTS_WAIT_S", "120"))
engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
while True:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
        break
    except sqlalchemy.exc.OperationalError as exc:
        if time.monotonic() > deadline:
            where = engine.url.render_as_string(hide_password=True)
            sys.exit(f"error: PostgreSQL at {where} did not answer: {str(exc.orig).strip()[:200]}")
        time.sleep(1)
print(f"PostgreSQL {engine.url.host}:{engine.url.port}/{engine.url.database} is up", flush=True)
PY
}

# wait_for_http URL: until URL answers 200 (at most $CREDIT_POINTS_WAIT_S seconds, default 120).
wait_for_http() {
  WAIT_HTTP_URL=$1 python - <<'PY'
import os, sys, time, urllib.request

url = os.environ["WAIT_HTTP_URL"]
deadline = time.monotonic() + float(os.environ.get("CREDIT_POINTS_WAIT_S", "120"))
while True:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            if answer.status == 200:
                break
    except OSError as exc:
        if time.monotonic() > deadline:
            sys.exit(f"error: {url} did not answer: {exc}")
    time.sleep(1)
print(f"{url} is up", flush=True)
PY
}
