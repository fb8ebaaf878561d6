"""Post cards rendered once and reused: the "precompiled fragments" of public pages.

A page lists posts by id; each post's card is looked up in the cache under a key
that changes whenever anything the card shows changes (the post's edit time, the
account's profile version, the language, the link style of the requesting
host). Only missing cards are loaded from the database and rendered, so a warm
page costs one light query for the ids plus the page shell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template import engines
from markupsafe import Markup

from parvis.publishing.models import Post
from parvis.web.lookups import account_path

CARD_SECONDS = 24 * 3600


def _key(row: Sequence[Any], request: HttpRequest, same_host: bool) -> str:
    post_id, edited_at, account_updated_at, _domain = row
    edited = edited_at.timestamp() if edited_at else 0
    return (
        f"card:{post_id}:{edited}:{account_updated_at.timestamp()}:"
        f"{request.LANGUAGE_CODE}:{int(same_host)}"
    )


def post_cards(
    queryset: QuerySet[Post], request: HttpRequest, limit: int
) -> list[tuple[int, Markup]]:
    """Up to ``limit`` (id, card HTML) pairs of ``queryset``, newest first."""
    rows = list(
        queryset.order_by("-id").values_list(
            "id", "edited_at", "account__updated_at", "account__domain__name"
        )[:limit]
    )
    if not rows:
        return []
    from parvis.web.lookups import request_domain

    here = request_domain(request)
    keys = {row[0]: _key(row, request, row[3] == here) for row in rows}
    found: dict[str, str] = cache.get_many(list(keys.values()))
    missing = [post_id for post_id, key in keys.items() if key not in found]
    if missing:
        macro = engines["jinja2"].env.get_template("web/_post.html").module.post_card

        def path_of(account: Any) -> str:
            return account_path(account, request)

        def post_path(post: Post) -> str:
            return f"{account_path(post.account, request)}/{post.id}"

        fresh = {}
        for post in (
            Post.objects.filter(id__in=missing)
            .select_related("account__domain", "mandate__official")
            .prefetch_related("media")
        ):
            fresh[keys[post.id]] = str(macro(post, path_of, post_path))
        cache.set_many(fresh, CARD_SECONDS)
        found.update(fresh)
    # The cache only ever holds cards this module rendered with autoescaping on.
    return [
        (row[0], Markup(found[keys[row[0]]]))  # noqa: S704
        for row in rows
        if keys[row[0]] in found
    ]
