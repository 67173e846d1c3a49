#!/usr/bin/env bash
# Source this file, then `start_postgres`: a throwaway local PostgreSQL on 127.0.0.1:${PGPORT:-55432}
# (trust auth, loopback only) for the audit-store tests. Exports CREDIT_POINTS_TEST_PG_URL.
start_postgres() {
  local port=${CREDIT_POINTS_PG_PORT:-55432}
  local dir=${CREDIT_POINTS_PG_DIR:-/tmp/credit-points-pg}
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ]; then echo "error: PostgreSQL is not installed (run: make sysdeps)" >&2; return 1; fi
  local run=()
  if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); fi
  if ! "${run[@]}" "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
      "${run[@]}" "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --no-locale >/dev/null || return 1
    fi
    "${run[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
      -o "-h 127.0.0.1 -p $port -k /tmp -c fsync=off -c full_page_writes=off" start >/dev/null || return 1
  fi
  "${run[@]}" "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='credit_points_test'" | grep -q 1 \
    || "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres credit_points_test || return 1
  export CREDIT_POINTS_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/credit_points_test"
  echo "PostgreSQL ready at 127.0.0.1:$port"
}
