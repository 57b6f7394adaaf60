#!/usr/bin/env bash
# Installs the Debian packages the test suite and benchmarks use, if missing:
#   redis-server  (Redis session store tests start their own server on a free loopback port)
#   chromium      (browser tests: CSRF from another origin, the admin dashboard; via playwright-core)
#   wrk           (`npm run bench` load generator)
#   nghttp2-client (h2load: rate-controlled load; nghttp: HTTP/2 frame tests)
#   curl          (HTTP/2 tests speak to vial with curl --http2)
#   gunicorn, python3-flask, python3-flaskext.wtf, python3-asgiref  (the doctor's matrix runs real Flask apps; asgiref runs their async def views); checked with Debian's /usr/bin/python3, not a pyenv one
#   prometheus    (the fleet-view test scrapes two vial processes)
# Quick when everything is there. Needs root or sudo to install; otherwise says what to install.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v gunicorn >/dev/null 2>&1 || missing+=(gunicorn)
/usr/bin/python3 -c 'import flask' >/dev/null 2>&1 || missing+=(python3-flask)
/usr/bin/python3 -c 'import flask_wtf' >/dev/null 2>&1 || missing+=(python3-flaskext.wtf)
/usr/bin/python3 -c 'import asgiref' >/dev/null 2>&1 || missing+=(python3-asgiref)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then as_root=(); elif command -v sudo >/dev/null 2>&1; then as_root=(sudo); else
  echo "vial tests need these Debian packages: ${missing[*]}" >&2
  echo "Install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
