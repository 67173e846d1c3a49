#!/usr/bin/env bash
# Installs the Debian packages credit-points needs beyond Python: PostgreSQL (audit store tests),
# Chromium (rendered-report tests), Noto CJK fonts and pango (PDF reports), poppler (pdftotext), wrk (load test).
# --best-effort: skip quietly when apt-get is unavailable or we are not root (make demo).
set -u
best_effort=0; [ "${1:-}" = "--best-effort" ] && best_effort=1
pkgs=(postgresql chromium fonts-noto-cjk poppler-utils wrk libpango-1.0-0 libpangoft2-1.0-0)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
  msg="missing Debian packages: ${missing[*]} (install them with apt-get as root)"
  if [ $best_effort = 1 ]; then echo "note: $msg; PDF reports may be skipped" >&2; exit 0; fi
  echo "error: $msg" >&2; exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || { [ $best_effort = 1 ] && { echo "note: apt-get failed; continuing" >&2; exit 0; }; exit 1; }
