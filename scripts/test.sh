#!/usr/bin/env bash
# Install everything and run the whole test suite on SQLite, then on a live PostgreSQL.
source "$(dirname "$0")/common.sh"
apt_install postgresql chromium fonts-dejavu-core
python_env
# The Fedify interop peer (tests/interop), on the Node.js the venv pins.
npm ci --prefix tests/interop/fedify_peer --no-audit --no-fund --loglevel=error
npm ci --prefix tests/interop/masto_client --no-audit --no-fund --loglevel=error
ruff check --quiet .
ruff format --check --quiet .
source scripts/postgres.sh
echo "== Test suite on SQLite"
pytest "$@"
echo "== Test suite on PostgreSQL"
# tests/interop starts real servers with their own SQLite files (harness.environment
# drops DATABASE_URL): they ran above, and would run identically again.
DATABASE_URL="$PARVIS_TEST_POSTGRES_URL" pytest --ignore=tests/interop "$@"
