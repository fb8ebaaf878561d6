"""``parvis follow``: staff make a hosted account follow, or stop following, another account.

The command lives in the federation app because it resolves Fediverse addresses
(WebFinger, actor documents); the follow itself is the interactions service's.
Every refusal is checked before anything is written or sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from parvis.federation import ids
from parvis.federation.management.addresses import (
    account_here,
    host_of,
    hosted_account,
    is_url,
    named_account,
    split_address,
)
from parvis.identity.models import Account
from parvis.interactions import services as interactions
from parvis.interactions.models import Follow


def _followed(follower: Account, spec: str) -> Account | None:
    """The account ``spec`` names among those ``follower`` follows (no request made)."""
    follows = Account.objects.remote().filter(followers__follower=follower)
    if is_url(spec):
        return follows.filter(uri=spec).first()
    user, authority = split_address(spec)
    candidates = list(follows.filter(handle__iexact=user, remote_host=host_of(authority)))
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
        target = named_account(spec)
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
        target = account_here(spec) or _followed(follower, spec)
        if target is None or not interactions.unfollow(follower, target):
            raise CommandError(f"{follower.acct} does not follow {spec}.")
        self.stdout.write(self.style.SUCCESS(f"{follower.acct} no longer follows {target.acct}."))
