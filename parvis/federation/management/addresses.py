"""Fediverse addresses on the command line: ``user@server[:port]`` or an actor URL.

Shared by the commands that name another account (``parvis follow``, ``parvis move``);
each refusal is a ``CommandError`` naming what is wrong, raised before anything is
written or sent.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.management.base import CommandError

from parvis.core.urls import without_canonical_port
from parvis.federation import ids
from parvis.federation.models import BlockedDomain
from parvis.federation.origins import InvalidOrigin
from parvis.federation.remote import RemoteError, fetch_actor, resolve_address
from parvis.identity.lookups import hosted_domains
from parvis.identity.models import Account


def is_url(spec: str) -> bool:
    return spec.startswith(("https://", "http://"))


def split_address(spec: str) -> tuple[str, str]:
    """``(user, host[:port])`` of ``user@host[:port]`` (a leading ``@`` is allowed)."""
    user, at, authority = spec.strip().lstrip("@").partition("@")
    if not at or not user or not authority:
        raise CommandError(f"{spec!r} is not an address of the form user@server.")
    return user, authority


def authority_of(spec: str) -> str:
    """The ``host[:port]`` an address or an actor URL points at."""
    return urlsplit(spec).netloc if is_url(spec) else split_address(spec)[1]


def host_of(authority: str) -> str:
    """The host of ``host[:port]`` (lower-cased, IPv6 brackets removed)."""
    try:
        return urlsplit(f"//{authority}").hostname or ""
    except ValueError as error:
        raise CommandError(f"{authority!r} is not a server name: {error}") from error


def hosted_account(spec: str) -> Account:
    """The hosted account ``handle@domain``; CommandError when there is none."""
    handle, authority = split_address(spec)
    domain = without_canonical_port(authority.lower()) or authority.lower()
    account = (
        Account.objects.local()
        .select_related("domain")
        .filter(handle=handle.lower(), domain__name=domain)
        .first()
    )
    if account is None:
        raise CommandError(f"No account {handle}@{domain} is hosted on this server.")
    if account.suspended_at:
        raise CommandError(f"The account {account.acct} is suspended.")
    return account


def account_here(spec: str) -> Account | None:
    """The hosted account ``spec`` names when it points at this server, else None.

    An address or an actor URL of one of our own domains is looked up here: fetching
    our own actor would record a hosted account a second time, as a remote one.
    """
    domain = without_canonical_port(authority_of(spec).lower())
    if domain is None or domain not in hosted_domains():
        return None
    if not is_url(spec):
        return hosted_account(spec)
    path = urlsplit(spec).path.rstrip("/")
    account = (
        Account.objects.local()
        .select_related("domain")
        .filter(domain__name=domain, handle=path[2:].lower())
        .first()
        if path.startswith("/@")
        else None
    )
    if account is None or ids.actor_uri(account) != spec.rstrip("/"):
        raise CommandError(f"{spec} is not the address of an account hosted on this server.")
    return account


def remote_account(spec: str) -> Account:
    """The account of another server ``spec`` names, fetched from its server."""
    try:
        actor = fetch_actor(spec) if is_url(spec) else resolve_address(spec)
    except (RemoteError, InvalidOrigin) as error:
        raise CommandError(f"Cannot find {spec}: {error}") from error
    return actor.account


def named_account(spec: str) -> Account:
    """The account ``spec`` names: hosted here, or fetched from its server (never from
    a blocked domain)."""
    account = account_here(spec)
    if account is not None:
        return account
    host = host_of(authority_of(spec))
    if BlockedDomain.covers(host):
        raise CommandError(f"{host} is a blocked domain: nothing is sent there.")
    return remote_account(spec)
