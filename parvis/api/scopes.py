"""Mastodon's OAuth scopes: the four top-level ones and their granular forms.

A token holding ``read`` may do what ``read:statuses`` allows, and so on; ``follow`` is
Mastodon's old shorthand for the relationship scopes. The descriptions are shown on the
consent page.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _
from oauth2_provider.scopes import BaseScopes

TOP = {
    "read": _("lire toutes les données du compte"),
    "write": _("modifier toutes les données du compte"),
    "follow": _("gérer les abonnements, les blocages et les masquages"),
    "push": _("recevoir des notifications poussées"),
    "profile": _("lire seulement le profil du compte"),
}

GRANULAR = {
    "read": [
        "accounts",
        "blocks",
        "bookmarks",
        "favourites",
        "filters",
        "follows",
        "lists",
        "mutes",
        "notifications",
        "search",
        "statuses",
    ],
    "write": [
        "accounts",
        "blocks",
        "bookmarks",
        "conversations",
        "favourites",
        "filters",
        "follows",
        "lists",
        "media",
        "mutes",
        "notifications",
        "reports",
        "statuses",
    ],
}

# What "follow" stood for before the granular scopes.
FOLLOW_COVERS = {
    "read:blocks",
    "write:blocks",
    "read:follows",
    "write:follows",
    "read:mutes",
    "write:mutes",
}

ALL: dict[str, str] = {
    **{name: str(text) for name, text in TOP.items()},
    **{f"{top}:{part}": f"{top}:{part}" for top, parts in GRANULAR.items() for part in parts},
}


def describe(scope: str) -> str:
    """What ``scope`` lets the application do, in the current language."""
    if scope in TOP:
        return str(TOP[scope])
    top, _sep, part = scope.partition(":")
    return f"{TOP[top]} ({part})" if top in TOP else scope


def covers(granted: Iterable[str], needed: str) -> bool:
    """Whether a token holding ``granted`` may act under ``needed`` (say ``read:statuses``)."""
    held = set(granted)
    if needed in held:
        return True
    top = needed.partition(":")[0]
    if top in held and top in GRANULAR:
        return True
    return "follow" in held and needed in FOLLOW_COVERS


class MastodonScopes(BaseScopes):
    """django-oauth-toolkit's view of the scopes: every Mastodon scope, ``read`` by default."""

    def get_all_scopes(self) -> dict[str, str]:
        return ALL

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is None or not getattr(application, "scopes", ""):
            return list(ALL)
        # What the application registered, and the granular forms of its top-level scopes.
        registered = set(application.scopes.split())
        return [s for s in ALL if s in registered or covers(registered - {"follow"}, s)]

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return ["read"]
