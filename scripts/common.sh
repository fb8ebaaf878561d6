# Shared by the scripts: find the project, install uv and the locked dependencies.
set -euo pipefail
PARVIS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$PARVIS_ROOT"

apt_install() {
  # Install Debian packages that are missing (needs root, as on a fresh server).
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing ${missing[*]} with apt…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

python_env() {
  # uv creates .venv and installs exactly what uv.lock pins. uv itself goes into
  # a private tools venv: Debian's python3 refuses system-wide pip installs.
  local uv=uv
  if ! command -v uv >/dev/null 2>&1; then
    if [ ! -x .tools/bin/uv ]; then
      python3 -m venv .tools 2>/dev/null || { apt_install python3-venv; python3 -m venv .tools; }
      .tools/bin/python -m pip install --quiet --disable-pip-version-check uv
    fi
    uv=.tools/bin/uv
  fi
  "$uv" sync --frozen --quiet
  export PATH="$PARVIS_ROOT/.venv/bin:$PATH"
}
