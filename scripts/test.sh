#!/usr/bin/env bash
# Install shopscope with its test extras into .venv and run the whole test suite.
# Browser tests need Debian's Chromium; as root it is installed here, otherwise they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -q && apt-get install -y -q chromium fonts-noto-cjk) >/tmp/shopscope-apt.log 2>&1 \
        || echo "chromium install failed (see /tmp/shopscope-apt.log); browser tests will skip"
fi
# Database ingest tests start throwaway PostgreSQL and MariaDB servers from Debian's packages.
if { ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ ! -x /usr/sbin/mariadbd ]; } \
        && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql \
        mariadb-server) >/tmp/shopscope-apt-db.log 2>&1 \
        || echo "database servers install failed (see /tmp/shopscope-apt-db.log); database tests will fail in CI"
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[${SHOPSCOPE_TEST_EXTRAS:-test,spark,db}]"
exec .venv/bin/python -m pytest "$@"
