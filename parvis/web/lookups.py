"""From a request to the hosted domain and account it names."""

import time

from django.conf import settings
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from parvis.identity.models import Account, Domain, Institution

_CACHE_SECONDS = 30.0
_domains: tuple[float, frozenset[str]] = (0.0, frozenset())


def hosted_domains() -> frozenset[str]:
    """Names of the hosted domains (cached for a few seconds per process)."""
    global _domains
    loaded_at, names = _domains
    if time.monotonic() - loaded_at > _CACHE_SECONDS:
        names = frozenset(Domain.objects.values_list("name", flat=True))
        _domains = (time.monotonic(), names)
    return names


def forget_domains() -> None:
    """Drop the cached domain list (after a domain is added)."""
    global _domains
    _domains = (0.0, frozenset())


def request_domain(request: HttpRequest) -> str | None:
    """The hosted domain a request addresses: its host, else the default domain."""
    host = request.get_host().rsplit(":", 1)[0].lower() if request.get_host() else ""
    names = hosted_domains()
    if host in names:
        return host
    if settings.PARVIS_DEFAULT_DOMAIN:
        return settings.PARVIS_DEFAULT_DOMAIN
    if len(names) >= 1:
        return min(names)
    return None


# Every public page of an account starts with this lookup, conditional GETs
# included, so it is one hand-written join: building and compiling the same
# query through the ORM costs ten times more than running it.
_ACCOUNT_SQL = (
    "SELECT a.*, d.name AS domain_name, i.name AS institution_name, "
    "i.kind AS institution_kind "
    "FROM identity_account a "
    "JOIN identity_domain d ON d.id = a.domain_id "
    "LEFT JOIN identity_institution i ON i.id = a.institution_id "
    "WHERE d.name = %s AND a.handle = %s"
)


def find_account(request: HttpRequest, handle: str, domain: str | None) -> Account:
    """The account ``@handle`` (on ``domain`` or the request's domain), or 404.

    Its domain and institution come loaded with the names pages show.
    """
    domain_name = (domain or request_domain(request) or "").lower()
    found = list(Account.objects.raw(_ACCOUNT_SQL, [domain_name, handle.lower()]))
    if not found:
        raise Http404(_("Aucun compte @%(acct)s ici.") % {"acct": f"{handle}@{domain_name}"})
    account = found[0]
    account.domain = Domain(id=account.domain_id, name=account.domain_name)
    if account.institution_id:
        account.institution = Institution(
            id=account.institution_id,
            name=account.institution_name,
            kind=account.institution_kind,
        )
    return account


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
