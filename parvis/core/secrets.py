"""A per-installation secret key for trials that did not set PARVIS_SECRET_KEY."""

import secrets
from pathlib import Path


def local_secret_key(data_dir: Path) -> str:
    """Return the key stored in ``data_dir``, creating it (mode 0600) on first use."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.touch(mode=0o600)
    path.write_text(key)
    return key
