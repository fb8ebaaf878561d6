#!/usr/bin/env bash
# Install everything and run the whole test suite on SQLite, then on a live PostgreSQL.
source "$(dirname "$0")/common.sh"
apt_install postgresql chromium fonts-dejavu-core
python_env
ruff check --quiet .
ruff format --check --quiet .
source scripts/postgres.sh
echo "== Test suite on SQLite"
pytest "$@"
echo "== Test suite on PostgreSQL"
DATABASE_URL="$PARVIS_TEST_POSTGRES_URL" pytest "$@"
