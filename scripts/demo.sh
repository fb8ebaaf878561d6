#!/usr/bin/env bash
# Install everything, load the demo into SQLite and serve Parvis on http://127.0.0.1:8000.
source "$(dirname "$0")/common.sh"
python_env
# Demo domains end in .localhost, which browsers resolve to this machine:
# http://blois.localhost:8000/@ville works as well as http://127.0.0.1:8000/.
export PARVIS_URL_SCHEME=${PARVIS_URL_SCHEME:-http}
export PARVIS_URL_PORT=${PARVIS_URL_PORT:-8000}
export PARVIS_DEFAULT_DOMAIN=${PARVIS_DEFAULT_DOMAIN:-blois.localhost}
export PARVIS_ALLOWED_HOSTS=${PARVIS_ALLOWED_HOSTS:-.localhost,127.0.0.1,localhost,[::1]}
parvis migrate --verbosity 0
parvis demo
exec parvis serve --host 127.0.0.1 --port "${PARVIS_URL_PORT}"
