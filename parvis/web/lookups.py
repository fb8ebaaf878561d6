"""Paths of public pages as seen from the host and language of a request."""

from django.conf import settings
from django.http import HttpRequest

from parvis.identity.lookups import request_domain
from parvis.identity.models import Account


def language_prefix(request: HttpRequest) -> str:
    """``""`` for the default language, ``"/en"`` for English pages."""
    language = getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE)
    return "" if language == settings.LANGUAGE_CODE else f"/{language}"


def account_path(account: Account, request: HttpRequest) -> str:
    """Path to the account's profile that works on the host of ``request``."""
    prefix = language_prefix(request)
    if account.domain.name == request_domain(request):
        return f"{prefix}/@{account.handle}"
    return f"{prefix}/@{account.handle}@{account.domain.name}"
