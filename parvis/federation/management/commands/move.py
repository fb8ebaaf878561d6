"""``parvis move``: a hosted account moves to another account, here or on another server.

As on Mastodon, the new account must first name the old one among its other
identities (``alsoKnownAs``; for an account hosted here, the "autres comptes du
titulaire" field of the admin): otherwise anyone could claim anyone's followers.
The followers' servers then receive ``Move`` and follow the new account; the old
account's actor document points at it (``movedTo``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from parvis.federation import ids
from parvis.federation.management.addresses import hosted_account, named_account
from parvis.federation.remote import RemoteError, fetch_actor
from parvis.identity.models import Account
from parvis.identity.services import record_move


def _aliases(target: Account) -> list[str]:
    """The other identities ``target`` declares, read fresh from its server if remote."""
    if target.is_local:
        return list(target.also_known_as)
    try:
        return list(fetch_actor(target.uri, refresh=True).also_known_as)
    except RemoteError as error:
        raise CommandError(f"Cannot read {target.uri} again: {error}") from error


class Command(BaseCommand):
    help = (
        "Move a hosted account to another account, which must name it in its "
        "alsoKnownAs first: parvis move ville@social.blois.fr ville@nouveau.example "
        "(the new account may also be given by its actor URL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="The hosted account that moves: handle@domain.")
        parser.add_argument("target", help="The new account: user@server[:port], or its actor URL.")

    def handle(self, *args: Any, **options: Any) -> None:
        account = hosted_account(options["account"])
        target = named_account(options["target"].strip())
        if target.pk == account.pk:
            raise CommandError(f"{account.acct} cannot move to itself.")
        if target.suspended_at:
            raise CommandError(f"The account {target.acct} is suspended.")
        if target.moved_to_id:
            raise CommandError(f"{target.acct} has itself moved: give its new account.")
        uri = ids.actor_uri(account)
        if uri not in _aliases(target):
            raise CommandError(
                f"{target.acct} does not name {uri} in its alsoKnownAs: add the old "
                "account to the new one's other identities first."
            )
        if account.moved_to_id == target.pk:
            self.stdout.write(f"{account.acct} has already moved to {target.acct}.")
            return
        with transaction.atomic():
            record_move(account, target)
        self.stdout.write(
            self.style.SUCCESS(
                f"{account.acct} moved to {target.acct}; its followers' servers are told."
            )
        )
