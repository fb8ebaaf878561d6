"""``parvis follow``: staff make a hosted account follow, or stop following, another account.

The command lives in the federation app because it resolves Fediverse addresses
(WebFinger, actor documents); the follow itself is the interactions service's.
Every refusal is checked before anything is written or sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from parvis.core.urls import without_canonical_port
from parvis.federation import ids
from parvis.federation.models import BlockedDomain
from parvis.federation.origins import InvalidOrigin
from parvis.federation.remote import RemoteError, fetch_actor, resolve_address
from parvis.identity.lookups import hosted_domains
from parvis.identity.models import Account
from parvis.interactions import services as interactions
from parvis.interactions.models import Follow


def _is_url(spec: str) -> bool:
    return spec.startswith(("https://", "http://"))


def _split(spec: str) -> tuple[str, str]:
    """``(user, host[:port])`` of ``user@host[:port]`` (a leading ``@`` is allowed)."""
    user, at, authority = spec.strip().lstrip("@").partition("@")
    if not at or not user or not authority:
        raise CommandError(f"{spec!r} is not an address of the form user@server.")
    return user, authority


def _authority(spec: str) -> str:
    """The ``host[:port]`` an address or an actor URL points at."""
    return urlsplit(spec).netloc if _is_url(spec) else _split(spec)[1]


def _host(authority: str) -> str:
    """The host of ``host[:port]`` (lower-cased, IPv6 brackets removed)."""
    try:
        return urlsplit(f"//{authority}").hostname or ""
    except ValueError as error:
        raise CommandError(f"{authority!r} is not a server name: {error}") from error


def hosted_account(spec: str) -> Account:
    """The hosted account ``handle@domain``; CommandError when there is none."""
    handle, authority = _split(spec)
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


def _here(spec: str) -> Account | None:
    """The hosted account ``spec`` names when it points at this server, else None.

    An address or an actor URL of one of our own domains is looked up here: fetching
    our own actor would record a hosted account a second time, as a remote one.
    """
    domain = without_canonical_port(_authority(spec).lower())
    if domain is None or domain not in hosted_domains():
        return None
    if not _is_url(spec):
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


def _resolve(spec: str) -> Account:
    """The account of another server ``spec`` names, fetched from its server."""
    try:
        actor = fetch_actor(spec) if _is_url(spec) else resolve_address(spec)
    except (RemoteError, InvalidOrigin) as error:
        raise CommandError(f"Cannot find {spec}: {error}") from error
    return actor.account


def _followed(follower: Account, spec: str) -> Account | None:
    """The account ``spec`` names among those ``follower`` follows (no request made)."""
    follows = Account.objects.remote().filter(followers__follower=follower)
    if _is_url(spec):
        return follows.filter(uri=spec).first()
    user, authority = _split(spec)
    candidates = list(follows.filter(handle__iexact=user, remote_host=_host(authority)))
    if ":" in authority:
        # Two servers may share a host name on different ports (trials).
        candidates = [a for a in candidates if urlsplit(a.uri).netloc == authority.lower()]
    if len(candidates) > 1:
        raise CommandError(f"{spec} names several followed accounts: give its actor URL.")
    return candidates[0] if candidates else None


class Command(BaseCommand):
    help = (
        "Make a hosted account follow another account, or stop following it with --undo: "
        "parvis follow ville@social.blois.fr alice@mastodon.example "
        "(the second account may also be given by its actor URL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="The hosted account that follows: handle@domain.")
        parser.add_argument(
            "target", help="The account to follow: user@server[:port], or its actor URL."
        )
        parser.add_argument(
            "--undo", action="store_true", help="Stop following the account instead."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        follower = hosted_account(options["account"])
        spec = options["target"].strip()
        if options["undo"]:
            self._unfollow(follower, spec)
        else:
            self._follow(follower, spec)

    def _follow(self, follower: Account, spec: str) -> None:
        target = _here(spec)
        if target is None:
            host = _host(_authority(spec))
            if BlockedDomain.covers(host):
                raise CommandError(f"{host} is a blocked domain: no follow is sent there.")
            target = _resolve(spec)
        if target.pk == follower.pk:
            raise CommandError(f"{follower.acct} cannot follow itself.")
        if target.suspended_at:
            raise CommandError(f"The account {target.acct} is suspended.")
        if interactions.is_blocked(target, by=follower):
            raise CommandError(f"{follower.acct} and {target.acct} block each other.")
        existing = Follow.objects.filter(follower=follower, target=target).first()
        if existing is not None:
            self.stdout.write(f"{follower.acct} already follows {target.acct} ({existing.state}).")
            return
        if target.is_local:
            follow = interactions.record_follow(follower, target, "", approved=not target.locked)
        else:
            follow = interactions.request_follow(follower, target)
        if follow.state == Follow.State.ACCEPTED:
            done = f"{follower.acct} now follows {target.acct}."
        else:
            done = (
                f"{follower.acct} asked to follow {target.acct} ({ids.actor_uri(target)}); "
                "the follow stays pending until it is accepted."
            )
        self.stdout.write(self.style.SUCCESS(done))

    def _unfollow(self, follower: Account, spec: str) -> None:
        # Only accounts already followed can be unfollowed: they are known here, so
        # no request is needed (the other server may be gone for good).
        target = _here(spec) or _followed(follower, spec)
        if target is None or not interactions.unfollow(follower, target):
            raise CommandError(f"{follower.acct} does not follow {spec}.")
        self.stdout.write(self.style.SUCCESS(f"{follower.acct} no longer follows {target.acct}."))
