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
# The demand area's forecasts (extra "demand"): statsforecast and fugue declare pandas<3, which
# would move the whole suite to pandas 2; they run on pandas 3, so they are installed without
# their pins here and their other needs alongside (the demand tests prove it).
.venv/bin/python -m pip install -q --no-deps "statsforecast>=2,<3" "coreforecast>=0.0.16,<0.1" \
    "utilsforecast>=0.2,<0.3" "fugue>=0.9,<0.10" "triad>=1,<2" "adagio>=0.2,<0.3"
.venv/bin/python -m pip install -q "cloudpickle>=3" "threadpoolctl>=3" "tqdm>=4" \
    "narwhals>=1.30" "fsspec>=2023" "six>=1.16"
exec .venv/bin/python -m pytest "$@"
