"""From a request to the hosted domain and account it names."""

import copy
from datetime import UTC
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from parvis.core.memo import Expiring
from parvis.identity.models import Account, Domain, Institution

_domains = Expiring(lambda: frozenset(Domain.objects.values_list("name", flat=True)), 30.0)


def hosted_domains() -> frozenset[str]:
    """Names of the hosted domains (cached for a few seconds per process)."""
    return _domains.get()


def forget_domains() -> None:
    """Drop the cached domain list (after a domain is added)."""
    _domains.forget()


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
# included. It reads one indexed row of versions; the full account is kept per
# process and reloaded only when one of those versions moved. Both queries are
# hand-written: building and compiling them through the ORM costs several times
# more than running them.
_VERSION_SQL = (
    "SELECT a.id, a.last_change_at, a.updated_at, a.suspended_at, a.frozen_at "
    "FROM identity_account a JOIN identity_domain d ON d.id = a.domain_id "
    "WHERE d.name = %s AND a.handle = %s"
)
_ACCOUNT_SQL = (
    "SELECT a.*, d.name AS domain_name, i.name AS institution_name, "
    "i.kind AS institution_kind "
    "FROM identity_account a "
    "JOIN identity_domain d ON d.id = a.domain_id "
    "LEFT JOIN identity_institution i ON i.id = a.institution_id "
    "WHERE a.id = %s"
)
_ACCOUNTS_KEPT = 2000
_accounts: dict[int, tuple[tuple[Any, ...], Account]] = {}


def aware(value: Any) -> Any:
    """A datetime read by raw SQL, made timezone-aware."""
    # SQLite hands back naive UTC datetimes where PostgreSQL gives aware ones.
    if value is not None and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value


def _load_account(account_id: int) -> Account:
    account = next(iter(Account.objects.raw(_ACCOUNT_SQL, [account_id])))
    account.domain = Domain(id=account.domain_id, name=account.domain_name)
    if account.institution_id:
        account.institution = Institution(
            id=account.institution_id,
            name=account.institution_name,
            kind=account.institution_kind,
        )
    return account


def forget_accounts() -> None:
    """Drop the accounts kept by this process (tests start from empty databases)."""
    _accounts.clear()


def find_account(request: HttpRequest, handle: str, domain: str | None) -> Account:
    """The account ``@handle`` (on ``domain`` or the request's domain), or 404.

    Its domain and institution come loaded with the names pages show; its
    ``last_change_at`` is always read from the database.
    """
    domain_name = (domain or request_domain(request) or "").lower()
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL, [domain_name, handle.lower()])
        row = cursor.fetchone()
    if row is None:
        raise Http404(_("Aucun compte @%(acct)s ici.") % {"acct": f"{handle}@{domain_name}"})
    account_id, last_change_at, *versions = row
    kept = _accounts.get(account_id)
    if kept is None or kept[0] != tuple(versions):
        if len(_accounts) >= _ACCOUNTS_KEPT:
            _accounts.clear()
        kept = _accounts[account_id] = (tuple(versions), _load_account(account_id))
    account = copy.copy(kept[1])
    account.last_change_at = aware(last_change_at)
    return account
