"""Canonical absolute URLs of hosted objects.

An object's canonical URL names the domain that hosts its account, whatever
host the current request came through: it is the URL other servers store.
"""

from django.conf import settings


def origin(domain: str) -> str:
    """``https://domain`` (or the scheme and port configured for trials)."""
    port = f":{settings.PARVIS_URL_PORT}" if settings.PARVIS_URL_PORT else ""
    return f"{settings.PARVIS_URL_SCHEME}://{domain}{port}"


def absolute(domain: str, path: str) -> str:
    """The absolute URL of ``path`` on ``domain``."""
    return origin(domain) + path
