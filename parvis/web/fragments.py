"""Post cards rendered once and reused: the "precompiled fragments" of public pages.

A page lists posts by id; each post's card is looked up in the cache under a key
that changes whenever anything the card shows changes (the post's edit time, the
account's profile version, the language, the link style of the requesting
host). Only missing cards are loaded from the database and rendered, so a warm
page costs one light query for the ids plus the page shell.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest
from django.template import engines
from markupsafe import Markup

from parvis.identity.lookups import aware, request_domain
from parvis.identity.models import Account
from parvis.publishing.models import Post
from parvis.web.lookups import account_path

CARD_SECONDS = 24 * 3600


# The timelines of public pages, as hand-written SQL: Django spends ten times
# longer building and compiling these queries than the database spends running
# them. tests/web/test_fragments.py checks they select exactly what the ORM
# querysets of the same name select (Post.objects.public(), a profile, a tag).
_TIMELINE_SQL = (
    "SELECT p.id, p.edited_at, a.updated_at, d.name FROM publishing_post p "
    "JOIN identity_account a ON a.id = p.account_id "
    "JOIN identity_domain d ON d.id = a.domain_id "
    "WHERE p.deleted_at IS NULL AND {where}{before} ORDER BY p.id DESC LIMIT %s"
)
TIMELINES = {
    "public": "p.visibility = 'public' AND a.suspended_at IS NULL",
    "profile": "p.account_id = %s AND p.visibility IN ('public', 'unlisted')",
    "single": "p.id = %s AND p.account_id = %s AND p.visibility IN ('public', 'unlisted')",
    "tag": (
        "p.visibility = 'public' AND a.suspended_at IS NULL AND p.id IN ("
        "SELECT ph.post_id FROM publishing_post_hashtags ph "
        "JOIN publishing_hashtag h ON h.id = ph.hashtag_id WHERE h.name = %s)"
    ),
}


def timeline_rows(
    timeline: str, params: Sequence[Any], *, max_id: int | None, limit: int
) -> list[tuple[Any, ...]]:
    """(id, edited_at, account updated_at, domain) of the newest posts of a timeline."""
    sql = _TIMELINE_SQL.format(
        where=TIMELINES[timeline], before=" AND p.id < %s" if max_id is not None else ""
    )
    values = [*params, *([max_id] if max_id is not None else []), limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.fetchall()


_POST_VERSION_SQL = (
    "SELECT id, visibility, published_at, edited_at, deleted_at, text, spoiler_text "
    "FROM publishing_post WHERE id = %s AND account_id = %s"
)


def post_versions(post_id: int, account: Account) -> Post | None:
    """A post of ``account`` with only what a permalink needs before its card: state, times."""
    with connection.cursor() as cursor:
        cursor.execute(_POST_VERSION_SQL, [post_id, account.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, visibility, published_at, edited_at, deleted_at, text, spoiler_text = row
    return Post(
        id=pk,
        account=account,
        visibility=visibility,
        published_at=aware(published_at),
        edited_at=aware(edited_at),
        deleted_at=aware(deleted_at),
        text=text,
        spoiler_text=spoiler_text,
    )


def _key(row: Sequence[Any], request: HttpRequest, same_host: bool) -> str:
    post_id, edited_at, account_updated_at, _domain = row
    # Raw rows hold datetimes or, on SQLite, their text: either identifies a version.
    version = zlib.crc32(f"{edited_at}|{account_updated_at}".encode())
    return f"card:{post_id}:{version:x}:{request.LANGUAGE_CODE}:{int(same_host)}"


def post_cards(
    timeline: str, params: Sequence[Any], request: HttpRequest, *, max_id: int | None, limit: int
) -> list[tuple[int, Markup]]:
    """Up to ``limit`` (id, card HTML) pairs of a timeline, newest first."""
    rows = timeline_rows(timeline, params, max_id=max_id, limit=limit)
    if not rows:
        return []
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
