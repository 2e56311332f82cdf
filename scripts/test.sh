#!/usr/bin/env bash
# Install shopscope with its test extras into .venv and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[${SHOPSCOPE_TEST_EXTRAS:-test,spark}]"
exec .venv/bin/python -m pytest "$@"
