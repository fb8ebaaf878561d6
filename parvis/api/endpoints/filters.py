"""Filters (Mastodon's filters v2, and v1 read as keywords) and where they apply.

Filters belong to the token's account, not to the staff member holding the token: the
whole team of the account shares them, as it shares the account's notifications. Another
account's filter, keyword or status is not found (404), whoever asks. Reading needs only
the scope; changing them needs a role that writes for the account (an editor or a
publisher), since they shape what the whole team reads; a moderator's token gets 403.
Request bodies are JSON or forms, ``keywords_attributes[][keyword]`` read as Rails reads
it (:class:`parvis.api.params.SettingsWriter`).

:func:`filter_results` applies them where Mastodon does: the home and list timelines
(``home``), the public and tag timelines when the caller has an account (``public``), an
account's statuses (``account``), a thread (``thread``) and notifications
(``notifications``).

Known differences from Mastodon:

* An account has at most 100 filters of at most 100 keywords each (Mastodon sets no
  limit): every page of a timeline reads them all.
* Filters apply when a page is read: a status hidden by a filter leaves a page shorter
  than ``limit``. Keywords are matched in the spoiler text, the text of the content and
  the alt texts. The account's own statuses are never filtered (Mastodon's home feed
  never hides them either).
* Adding a status the caller may not see, or that does not exist, answers 404 (Mastodon
  422).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, prefetch_related_objects
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from parvis.api import models, schemas
from parvis.api.auth import OAuth
from parvis.api.endpoints.common import (
    own_account,
    path_id,
    status_or_404,
    validation_failed,
)
from parvis.api.entities import iso
from parvis.api.errors import ApiError, not_found
from parvis.api.params import SettingsWriter
from parvis.federation.vocab.html import plain_text
from parvis.identity.models import Account

router = Router(tags=["filters"])
ERRORS = schemas.ERRORS
WRITE_ERRORS = schemas.WRITE_ERRORS

# Parvis's own limits: every page of a timeline reads all of an account's filters.
MAX_FILTERS = 100
MAX_KEYWORDS = 100
MAX_TITLE = 256
MAX_KEYWORD = 512
# Ten years: beyond, a date would overflow (and a filter that long never expires anyway).
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
_MAX_ID = 2**63 - 1

Context = models.Filter.Context
Action = models.Filter.Action


class FilterKeyword(Schema):
    id: str
    keyword: str
    whole_word: bool


class FilterStatus(Schema):
    id: str
    status_id: str


class Filter(Schema):
    id: str
    title: str
    context: list[str]
    expires_at: str | None
    filter_action: str
    keywords: list[FilterKeyword]
    statuses: list[FilterStatus]


class FilterResult(Schema):
    """What ``filtered`` of a Status holds: the filter and what matched."""

    filter: Filter
    keyword_matches: list[str] | None
    status_matches: list[str] | None


class V1Filter(Schema):
    """Mastodon's v1 filter: one per keyword of a v2 filter."""

    id: str
    phrase: str
    context: list[str]
    whole_word: bool
    expires_at: str | None
    irreversible: bool


def _keyword(row: models.FilterKeyword) -> dict[str, Any]:
    return {"id": str(row.pk), "keyword": row.keyword, "whole_word": row.whole_word}


def _filter_status(row: models.FilterStatus) -> dict[str, Any]:
    return {"id": str(row.pk), "status_id": str(row.post_id)}


def _filter(row: models.Filter) -> dict[str, Any]:
    """The Filter entity; ``keywords`` and ``statuses`` read from the prefetched rows."""
    return {
        "id": str(row.pk),
        "title": row.title,
        "context": list(row.context),
        "expires_at": iso(row.expires_at) if row.expires_at else None,
        "filter_action": row.filter_action,
        "keywords": [_keyword(k) for k in row.keywords.all()],
        "statuses": [_filter_status(s) for s in row.statuses.all()],
    }


def _v1_filter(row: models.FilterKeyword) -> dict[str, Any]:
    group = row.filter
    return {
        "id": str(row.pk),
        "phrase": row.keyword,
        "context": list(group.context),
        "whole_word": row.whole_word,
        "expires_at": iso(group.expires_at) if group.expires_at else None,
        "irreversible": group.filter_action == Action.HIDE,
    }


def _invalid(problem: str) -> ApiError:
    return validation_failed([problem])


def _title(value: str) -> str:
    """A title, trimmed; 422 when blank or too long."""
    title = value.strip()
    if not title:
        raise _invalid(_("le titre est vide."))
    if len(title) > MAX_TITLE:
        raise _invalid(_("le titre dépasse %(max)d caractères.") % {"max": MAX_TITLE})
    return title


class KeywordAttributes(Schema):
    """A keyword of ``keywords_attributes``: a new one, or one to change or remove by id."""

    id: str | int | None = None
    keyword: str | None = None
    whole_word: bool | None = None
    destroy: bool = Field(False, alias="_destroy")


class NewFilter(Schema):
    title: str
    context: list[str]
    filter_action: str = Action.WARN
    # Seconds from now; empty or null: never.
    expires_in: int | str | None = None
    # A list in JSON, a dict keyed "0", "1"… from a form.
    keywords_attributes: list[KeywordAttributes] | dict[str, KeywordAttributes] = []


class FilterChanges(Schema):
    title: str | None = None
    context: list[str] | None = None
    filter_action: str | None = None
    expires_in: int | str | None = None
    keywords_attributes: list[KeywordAttributes] | dict[str, KeywordAttributes] = []


class NewKeyword(Schema):
    keyword: str
    whole_word: bool = True


class KeywordChanges(Schema):
    keyword: str | None = None
    whole_word: bool | None = None


class NewFilterStatus(Schema):
    status_id: str | int


def _context(values: Sequence[str]) -> list[str]:
    if not values:
        raise _invalid(_("le contexte est vide."))
    wrong = [value for value in values if value not in Context.values]
    if wrong:
        raise _invalid(
            _("contexte inconnu : %(value)s (home, notifications, public, thread, account).")
            % {"value": str(wrong[0])[:40]}
        )
    return list(dict.fromkeys(values))


def _action(value: str) -> str:
    if value not in Action.values:
        raise _invalid(
            _("« %(value)s » n'est pas une valeur de filter_action (warn, hide, blur).")
            % {"value": value[:40]}
        )
    return value


def _expiry(value: int | str | None) -> datetime | None:
    """When a filter given ``expires_in`` seconds ends; None: never."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_EXPIRES_IN:
        raise _invalid(
            _("expires_in n'est pas un nombre de secondes : %(value)s") % {"value": text[:40]}
        )
    return timezone.now() + timedelta(seconds=int(text))


def _keyword_text(value: str | None) -> str:
    keyword = (value or "").strip()
    if not keyword:
        raise _invalid(_("le mot-clé est vide."))
    if len(keyword) > MAX_KEYWORD:
        raise _invalid(_("le mot-clé dépasse %(max)d caractères.") % {"max": MAX_KEYWORD})
    return keyword


def _attributes(
    given: list[KeywordAttributes] | dict[str, KeywordAttributes],
) -> list[KeywordAttributes]:
    """``keywords_attributes`` in their order, whether a list or a dict keyed by index."""
    if isinstance(given, list):
        return given
    return [given[key] for key in sorted(given, key=_index_order)]


def _index_order(key: str) -> tuple[int, str]:
    """Form indexes in number order ("2" before "10"), any other key after them."""
    return (int(key), "") if key.isascii() and key.isdigit() else (_MAX_ID, key)


def _own_filters(request: HttpRequest) -> QuerySet[models.Filter]:
    return models.Filter.objects.filter(account=own_account(request)).prefetch_related(
        "keywords", "statuses"
    )


def _own_filter(request: HttpRequest, filter_id: str) -> models.Filter:
    row = _own_filters(request).filter(pk=path_id(filter_id)).first()
    if row is None:
        raise not_found()
    return row


def _reloaded(row: models.Filter) -> dict[str, Any]:
    """The entity of a filter just changed, its keywords and statuses read again."""
    fresh = models.Filter.objects.prefetch_related("keywords", "statuses").get(pk=row.pk)
    return _filter(fresh)


def _apply_keywords(row: models.Filter, attributes: list[KeywordAttributes], *, new: bool) -> None:
    """Create, change or remove the keywords of ``row`` as ``keywords_attributes`` says."""
    existing = {k.pk: k for k in models.FilterKeyword.objects.filter(filter=row)}
    for item in attributes:
        if item.id not in (None, ""):
            keyword = existing.get(path_id(str(item.id)))
            if new or keyword is None:
                # Mastodon: an id names a keyword of this filter, which a new one has none of.
                raise not_found()
            if item.destroy:
                keyword.delete()
                continue
            if item.keyword is not None:
                keyword.keyword = _keyword_text(item.keyword)
            if item.whole_word is not None:
                keyword.whole_word = item.whole_word
            keyword.save(update_fields=["keyword", "whole_word"])
        elif not item.destroy:
            models.FilterKeyword.objects.create(
                filter=row,
                keyword=_keyword_text(item.keyword),
                whole_word=True if item.whole_word is None else item.whole_word,
            )
    if models.FilterKeyword.objects.filter(filter=row).count() > MAX_KEYWORDS:
        raise _invalid(_("un filtre a au plus %(max)d mots-clés.") % {"max": MAX_KEYWORDS})


@router.get("/v2/filters", response={200: list[Filter], **ERRORS}, auth=OAuth("read:filters"))
def get_filters(request: HttpRequest) -> list[dict[str, Any]]:
    """The account's filters, expired ones included, oldest first."""
    return [_filter(row) for row in _own_filters(request).order_by("pk")]


@router.post(
    "/v2/filters", response={200: Filter, **WRITE_ERRORS}, auth=SettingsWriter("write:filters")
)
def create_filter(request: HttpRequest, data: NewFilter) -> dict[str, Any]:
    """A new filter, with its keywords; all of it or nothing."""
    me = own_account(request)
    title = _title(data.title)
    context = _context(data.context)
    action = _action(data.filter_action)
    expires_at = _expiry(data.expires_in)
    if models.Filter.objects.filter(account=me).count() >= MAX_FILTERS:
        raise _invalid(_("un compte a au plus %(max)d filtres.") % {"max": MAX_FILTERS})
    with transaction.atomic():
        row = models.Filter.objects.create(
            account=me, title=title, context=context, filter_action=action, expires_at=expires_at
        )
        _apply_keywords(row, _attributes(data.keywords_attributes), new=True)
    return _reloaded(row)


@router.get("/v2/filters/{filter_id}", response={200: Filter, **ERRORS}, auth=OAuth("read:filters"))
def get_filter(request: HttpRequest, filter_id: str) -> dict[str, Any]:
    """One of the account's filters."""
    return _filter(_own_filter(request, filter_id))


@router.put(
    "/v2/filters/{filter_id}",
    response={200: Filter, **WRITE_ERRORS},
    auth=SettingsWriter("write:filters"),
)
def update_filter(request: HttpRequest, filter_id: str, data: FilterChanges) -> dict[str, Any]:
    """Change a filter and its keywords (``keywords_attributes`` with ``id``/``_destroy``)."""
    row = _own_filter(request, filter_id)
    if data.title is not None:
        row.title = _title(data.title)
    if data.context is not None:
        row.context = _context(data.context)
    if data.filter_action is not None:
        row.filter_action = _action(data.filter_action)
    if "expires_in" in data.model_fields_set:
        # Given empty or null, the filter no longer expires; left out, it is kept.
        row.expires_at = _expiry(data.expires_in)
    with transaction.atomic():
        row.save(update_fields=["title", "context", "filter_action", "expires_at"])
        _apply_keywords(row, _attributes(data.keywords_attributes), new=False)
    return _reloaded(row)


@router.delete(
    "/v2/filters/{filter_id}",
    response={200: schemas.Empty, **WRITE_ERRORS},
    auth=SettingsWriter("write:filters"),
)
def delete_filter(request: HttpRequest, filter_id: str) -> dict[str, Any]:
    """Delete a filter with its keywords and statuses."""
    _own_filter(request, filter_id).delete()
    return {}


@router.get(
    "/v2/filters/{filter_id}/keywords",
    response={200: list[FilterKeyword], **ERRORS},
    auth=OAuth("read:filters"),
)
def get_keywords(request: HttpRequest, filter_id: str) -> list[dict[str, Any]]:
    """The keywords of a filter."""
    return [_keyword(k) for k in _own_filter(request, filter_id).keywords.all()]


@router.post(
    "/v2/filters/{filter_id}/keywords",
    response={200: FilterKeyword, **WRITE_ERRORS},
    auth=SettingsWriter("write:filters"),
)
def add_keyword(request: HttpRequest, filter_id: str, data: NewKeyword) -> dict[str, Any]:
    """Add a keyword to a filter."""
    row = _own_filter(request, filter_id)
    keyword = _keyword_text(data.keyword)
    if len(row.keywords.all()) >= MAX_KEYWORDS:
        raise _invalid(_("un filtre a au plus %(max)d mots-clés.") % {"max": MAX_KEYWORDS})
    created = models.FilterKeyword.objects.create(
        filter=row, keyword=keyword, whole_word=data.whole_word
    )
    return _keyword(created)


def _own_keyword(request: HttpRequest, keyword_id: str) -> models.FilterKeyword:
    row = (
        models.FilterKeyword.objects.select_related("filter")
        .filter(pk=path_id(keyword_id), filter__account=own_account(request))
        .first()
    )
    if row is None:
        raise not_found()
    return row


@router.get(
    "/v2/filters/keywords/{keyword_id}",
    response={200: FilterKeyword, **ERRORS},
    auth=OAuth("read:filters"),
)
def get_keyword(request: HttpRequest, keyword_id: str) -> dict[str, Any]:
    """One keyword of one of the account's filters."""
    return _keyword(_own_keyword(request, keyword_id))


@router.put(
    "/v2/filters/keywords/{keyword_id}",
    response={200: FilterKeyword, **WRITE_ERRORS},
    auth=SettingsWriter("write:filters"),
)
def update_keyword(request: HttpRequest, keyword_id: str, data: KeywordChanges) -> dict[str, Any]:
    """Change a keyword, or whether it must match whole words."""
    row = _own_keyword(request, keyword_id)
    if data.keyword is not None:
        row.keyword = _keyword_text(data.keyword)
    if data.whole_word is not None:
        row.whole_word = data.whole_word
    row.save(update_fields=["keyword", "whole_word"])
    return _keyword(row)


@router.delete(
    "/v2/filters/keywords/{keyword_id}",
    response={200: schemas.Empty, **WRITE_ERRORS},
    auth=SettingsWriter("write:filters"),
)
def delete_keyword(request: HttpRequest, keyword_id: str) -> dict[str, Any]:
    """Remove a keyword from its filter."""
    _own_keyword(request, keyword_id).delete()
    return {}


@router.get(
    "/v2/filters/{filter_id}/statuses",
    response={200: list[FilterStatus], **ERRORS},
    auth=OAuth("read:filters"),
)
def get_filter_statuses(request: HttpRequest, filter_id: str) -> list[dict[str, Any]]:
    """The statuses a filter names."""
    return [_filter_status(s) for s in _own_filter(request, filter_id).statuses.all()]


@router.post(
    "/v2/filters/{filter_id}/statuses",
    response={200: FilterStatus, **WRITE_ERRORS},
    auth=SettingsWriter("write:filters"),
)
def add_filter_status(
    request: HttpRequest, filter_id: str, data: NewFilterStatus
) -> dict[str, Any]:
    """Add a status the caller may see to a filter; 422 when it is there already."""
    row = _own_filter(request, filter_id)
    post = status_or_404(request, str(data.status_id))
    try:
        with transaction.atomic():
            created = models.FilterStatus.objects.create(filter=row, post=post)
    except IntegrityError:
        raise _invalid(_("ce message est déjà dans le filtre.")) from None
    return _filter_status(created)


def _own_filter_status(request: HttpRequest, status_filter_id: str) -> models.FilterStatus:
    row = models.FilterStatus.objects.filter(
        pk=path_id(status_filter_id), filter__account=own_account(request)
    ).first()
    if row is None:
        raise not_found()
    return row


@router.get(
    "/v2/filters/statuses/{status_filter_id}",
    response={200: FilterStatus, **ERRORS},
    auth=OAuth("read:filters"),
)
def get_filter_status(request: HttpRequest, status_filter_id: str) -> dict[str, Any]:
    """One status of one of the account's filters."""
    return _filter_status(_own_filter_status(request, status_filter_id))


@router.delete(
    "/v2/filters/statuses/{status_filter_id}",
    response={200: schemas.Empty, **WRITE_ERRORS},
    auth=SettingsWriter("write:filters"),
)
def delete_filter_status(request: HttpRequest, status_filter_id: str) -> dict[str, Any]:
    """Take a status out of its filter."""
    _own_filter_status(request, status_filter_id).delete()
    return {}


@router.get("/v1/filters", response={200: list[V1Filter], **ERRORS}, auth=OAuth("read:filters"))
def get_v1_filters(request: HttpRequest) -> list[dict[str, Any]]:
    """The keywords of the account's filters, each as a v1 filter (as Mastodon 4 answers)."""
    keywords = (
        models.FilterKeyword.objects.filter(filter__account=own_account(request))
        .select_related("filter")
        .order_by("filter_id", "pk")
    )
    return [_v1_filter(k) for k in keywords]


@router.get(
    "/v1/filters/{keyword_id}", response={200: V1Filter, **ERRORS}, auth=OAuth("read:filters")
)
def get_v1_filter(request: HttpRequest, keyword_id: str) -> dict[str, Any]:
    """One keyword of the account's filters, as a v1 filter."""
    return _v1_filter(_own_keyword(request, keyword_id))


# --- applying filters ------------------------------------------------------------------


def _pattern(keyword: models.FilterKeyword) -> re.Pattern[str]:
    """Mastodon's pattern of a keyword: case-insensitive; with ``whole_word``, word
    boundaries on the sides that end with a word character."""
    body = re.escape(keyword.keyword)
    if not keyword.whole_word:
        return re.compile(body, re.IGNORECASE)
    start = r"\b" if re.match(r"\w", keyword.keyword) else ""
    end = r"\b" if re.search(r"\w\Z", keyword.keyword) else ""
    return re.compile(start + body + end, re.IGNORECASE)


def _searchable_text(status: dict[str, Any]) -> str:
    """What keywords are matched in: the spoiler text, the content's text, the alt texts."""
    parts = [
        status.get("spoiler_text") or "",
        plain_text(status.get("content") or "", max_bytes=None),
        *(media.get("description") or "" for media in status.get("media_attachments", [])),
    ]
    return "\n\n".join(part for part in parts if part)


def filter_results(
    account: Account, statuses: list[dict[str, Any]], *, context: str = Context.HOME
) -> list[dict[str, Any]]:
    """Rendered Status entities with ``filtered`` filled by ``account``'s filters active
    in ``context`` (a Filter.Context value), without those a ``hide`` filter matches.

    A boost is matched by the status it boosts (its text, and both ids for filtered
    statuses); the FilterResults go on the boost and on the boosted status. The account's
    own statuses are left as they are. Entities are copied, never changed in place
    (a page may hold a status and a boost of it, which share the boosted entity).
    Three queries (filters, keywords, statuses) whatever the number of filters and
    statuses; one when the account has no filter active in ``context``.
    """
    if not statuses:
        return statuses
    now = timezone.now()
    active = [
        row
        for row in models.Filter.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now), account=account
        ).order_by("pk")
        # JSON lookups differ between SQLite and PostgreSQL: the context is checked here.
        if context in row.context
    ]
    if not active:
        return statuses
    prefetch_related_objects(active, "keywords", "statuses")
    rules: list[tuple[dict[str, Any], list[tuple[str, re.Pattern[str]]], set[str], bool]] = [
        (
            _filter(row),
            [(k.keyword, _pattern(k)) for k in row.keywords.all()],
            {str(s.post_id) for s in row.statuses.all()},
            row.filter_action == Action.HIDE,
        )
        for row in active
    ]
    me = str(account.pk)
    kept: list[dict[str, Any]] = []
    for status in statuses:
        proper = status.get("reblog") or status
        if proper["account"]["id"] == me:
            kept.append(status)
            continue
        ids = {str(status["id"]), str(proper["id"])}
        # Read once, and only for filters with keywords: rendering HTML as text costs.
        text: str | None = None
        results: list[dict[str, Any]] = []
        hidden = False
        for entity, patterns, status_ids, hides in rules:
            keyword_matches: list[str] = []
            if patterns:
                if text is None:
                    text = _searchable_text(proper)
                keyword_matches = [word for word, pattern in patterns if pattern.search(text)]
            status_matches = sorted(ids & status_ids)
            if not keyword_matches and not status_matches:
                continue
            results.append(
                {
                    "filter": entity,
                    "keyword_matches": keyword_matches or None,
                    "status_matches": status_matches or None,
                }
            )
            hidden = hidden or hides
        if hidden:
            continue
        if not results:
            kept.append(status)
            continue
        copy = {**status, "filtered": results}
        if status.get("reblog"):
            copy["reblog"] = {**status["reblog"], "filtered": results}
        kept.append(copy)
    return kept
