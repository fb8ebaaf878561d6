"""Canonical absolute URLs of hosted objects.

An object's canonical URL names the domain that hosts its account, whatever
host the current request came through: it is the URL other servers store.
"""

from django.conf import settings

# How an account appears in a path: ``@handle`` or ``@handle@domain``.
HANDLE_PATTERN = r"(?P<handle>[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)"
DOMAIN_PATTERN = r"(?:@(?P<domain>[A-Za-z0-9.-]+\.[A-Za-z0-9-]+))?"
ACCOUNT_PATH = HANDLE_PATTERN + DOMAIN_PATTERN


def origin(domain: str) -> str:
    """``https://domain`` (or the scheme and port configured for trials)."""
    port = f":{settings.PARVIS_URL_PORT}" if settings.PARVIS_URL_PORT else ""
    return f"{settings.PARVIS_URL_SCHEME}://{domain}{port}"


def absolute(domain: str, path: str) -> str:
    """The absolute URL of ``path`` on ``domain``."""
    return origin(domain) + path


def canonical_port() -> str:
    """The port of canonical URLs: ``PARVIS_URL_PORT``, else the scheme's default."""
    return settings.PARVIS_URL_PORT or ("80" if settings.PARVIS_URL_SCHEME == "http" else "443")


def without_canonical_port(authority: str) -> str | None:
    """``host`` of ``host[:port]``; None when the port is not the one canonical URLs use.

    A trial served on another port has addresses such as ``ville@localhost:8000``
    (as Mastodon writes them); the hosted domain itself has no port.
    """
    host, colon, port = authority.rpartition(":")
    if not colon:
        return authority
    if not (port.isascii() and port.isdigit()) or port.lstrip("0") != canonical_port():
        return None
    return host
