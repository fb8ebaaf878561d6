"""Atom and RSS feeds of an account and of directory selections."""

from __future__ import annotations

from html import escape

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed, SyndicationFeed
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from parvis.core.http_cache import cacheable, make_etag, not_modified
from parvis.core.models import Clock
from parvis.core.urls import absolute
from parvis.identity.lookups import find_account
from parvis.publishing.models import Post
from parvis.web.views.public import PROFILE_VISIBILITIES, directory_accounts

FEED_CLASSES: dict[str, type[SyndicationFeed]] = {"atom": Atom1Feed, "rss": Rss201rev2Feed}


def _post_url(post: Post) -> str:
    return absolute(post.account.domain.name, f"/@{post.account.handle}/{post.id}")


def _feed(
    fmt: str,
    *,
    title: str,
    link: str,
    description: str,
    feed_url: str,
    posts: list[Post],
    language: str,
) -> HttpResponse:
    feed = FEED_CLASSES[fmt](
        title=title,
        link=link,
        description=description,
        language=language,
        feed_url=feed_url,
    )
    for post in posts:
        body = post.content_html
        if post.spoiler_text:
            body = f"<p><strong>{escape(post.spoiler_text)}</strong></p>{body}"
        for media in post.media.all():
            src = absolute(post.account.domain.name, media.file.url)
            body += f'<p><img src="{escape(src)}" alt="{escape(media.description)}"></p>'
        feed.add_item(
            title=post.spoiler_text or post.text[:80],
            link=_post_url(post),
            description=body,
            unique_id=_post_url(post),
            pubdate=post.published_at,
            updateddate=post.edited_at or post.published_at,
            author_name=post.account.display_name,
            categories=[tag.name for tag in post.hashtags.all()],
        )
    response = HttpResponse(content_type=f"{feed.content_type}")
    feed.write(response, "utf-8")
    return response


def _recent(queryset) -> list[Post]:
    return list(
        queryset.select_related("account__domain")
        .prefetch_related("media", "hashtags")
        .order_by("-id")[: settings.PARVIS_PAGE_SIZE]
    )


@require_safe
def account_feed(
    request: HttpRequest, handle: str, fmt: str, domain: str | None = None
) -> HttpResponse:
    """The latest public posts of one account."""
    account = find_account(request, handle, domain)
    if account.suspended_at:
        raise Http404(_("Le compte @%(acct)s est suspendu.") % {"acct": account.acct})
    changed = account.last_change_at
    etag = make_etag("feed", fmt, account.pk, changed)
    if response := not_modified(request, etag, changed):
        return response
    posts = _recent(account.posts.live().filter(visibility__in=PROFILE_VISIBILITIES))
    profile = absolute(account.domain.name, f"/@{account.handle}")
    response = _feed(
        fmt,
        title=f"{account.display_name} (@{account.acct})",
        link=profile,
        description=account.bio or account.display_name,
        feed_url=f"{profile}.{fmt}",
        posts=posts,
        language=account.language,
    )
    return cacheable(response, etag, changed)


@require_safe
def directory_feed(request: HttpRequest, fmt: str) -> HttpResponse:
    """The latest public posts of the accounts a directory filter selects."""
    changed = Clock.read("server")
    etag = make_etag("directory-feed", fmt, changed, request.GET.urlencode())
    if response := not_modified(request, etag, changed):
        return response
    accounts, filters = directory_accounts(request)
    posts = _recent(Post.objects.public().filter(account__in=accounts))
    selection = ", ".join(f"{k}={v}" for k, v in filters.items() if v) or _("tous les comptes")
    link = request.build_absolute_uri(f"/directory/?{request.GET.urlencode()}")
    response = _feed(
        fmt,
        title=_("Annuaire %(site)s — %(selection)s")
        % {"site": settings.PARVIS_SITE_NAME, "selection": selection},
        link=link,
        description=_("Derniers messages publics des comptes sélectionnés."),
        feed_url=request.build_absolute_uri(),
        posts=posts,
        language=settings.LANGUAGE_CODE,
    )
    return cacheable(response, etag, changed)
