"""Request bodies as Mastodon reads them: JSON, or forms in Rails' bracket notation.

Mastodon apps send ``media_ids[]=1&media_ids[]=2`` or ``poll[options][]=a`` as forms, or
the same as JSON. Both become the same nested data here, so that one schema validates
them. Query strings get the same treatment (``types[]=mention``).

Routes whose token is a :class:`SettingsWriter` read forms as Rails reads them, for every
method (Django parses the forms of POST requests only): ``keywords_attributes[][keyword]=a&
keywords_attributes[][whole_word]=1&keywords_attributes[][keyword]=b`` starts a new hash
whenever a key repeats, as Mastodon's examples send them. In a multipart form the order of
different keys is lost: each hash takes the n-th value of each key.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import load_handler
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from ninja.parser import Parser

from parvis.api.auth import Caller, OAuth
from parvis.api.errors import ApiError
from parvis.identity.services import Capability

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)$")
# Deep or huge forms are refused rather than built (a form of 10,000 nested keys).
MAX_DEPTH = 4


def _path(key: str) -> list[str] | None:
    match = _KEY.fullmatch(key)
    if match is None:
        return None
    parts = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
    return parts if len(parts) <= MAX_DEPTH else None


def nested(data: MultiValueDict) -> dict[str, Any]:
    """``a[]=1&a[]=2&b[c]=3`` as ``{"a": ["1", "2"], "b": {"c": "3"}}``."""
    result: dict[str, Any] = {}
    for key, values in data.lists():
        path = _path(key)
        if path is None:
            raise ApiError(422, _("Paramètre illisible : %(key)s") % {"key": key[:100]})
        node: Any = result
        for position, part in enumerate(path[:-1]):
            following = path[position + 1]
            if isinstance(node, dict):
                node = node.setdefault(part, [] if following == "" else {})
            else:
                raise ApiError(422, _("Paramètre illisible : %(key)s") % {"key": key[:100]})
        last = path[-1]
        if last == "":
            if not isinstance(node, list):
                raise ApiError(422, _("Paramètre illisible : %(key)s") % {"key": key[:100]})
            node.extend(values)
        elif isinstance(node, dict):
            node[last] = values[-1]
        else:
            raise ApiError(422, _("Paramètre illisible : %(key)s") % {"key": key[:100]})
    return result


class MastodonParser(Parser):
    """JSON bodies, form bodies and query strings, all read into the same shapes."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        if request.content_type == "application/json":
            if not request.body:
                return {}
            try:
                data = json.loads(request.body)
            except (ValueError, RecursionError):
                raise ApiError(400, _("Le corps de la requête n'est pas du JSON.")) from None
            if not isinstance(data, dict):
                raise ApiError(400, _("Le corps de la requête n'est pas un objet JSON."))
            return data
        return nested(request.POST)

    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key in data:
            bare = key[:-2] if key.endswith("[]") else key
            if bare in list_fields or key in list_fields:
                result.setdefault(bare, []).extend(data.getlist(key))
            else:
                result[bare] = data[key]
        return result


# --- forms as Rails reads them ---------------------------------------------------------

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
# ``name[][key]…``: an element of an array of hashes, in Rails' form notation.
_ITEM = re.compile(r"([^\[\]]+)\[\]\[([^\[\]]+)\](.*)")


def rails_indexed(pairs: Iterable[tuple[str, str]]) -> QueryDict:
    """Form fields in order, with ``a[][k]`` keys numbered as Rails groups them.

    Rails starts a new hash of ``a`` when the key ``k`` is already in the last one, so
    ``a[][k]=1&a[][j]=2&a[][k]=3`` is ``[{k: 1, j: 2}, {k: 3}]``; here it becomes
    ``a[0][k]=1&a[0][j]=2&a[1][k]=3``, which :func:`nested` reads as a
    dict keyed ``"0"``, ``"1"``… (its own notation cannot hold arrays of hashes).
    """
    index: dict[str, int] = {}
    keys_of_last: dict[str, set[str]] = {}
    result = QueryDict(mutable=True)
    for key, value in pairs:
        match = _ITEM.fullmatch(key)
        if match is not None:
            name, part, rest = match.groups()
            seen = keys_of_last.setdefault(name, set())
            if name not in index or part in seen:
                index[name] = index.get(name, -1) + 1
                seen.clear()
            seen.add(part)
            key = f"{name}[{index[name]}][{part}]{rest}"
        result.appendlist(key, value)
    return result


def _interleaved(fields: MultiValueDict) -> list[tuple[str, str]]:
    """The fields of a parsed form, the n-th value of every key before the (n+1)-th.

    A parsed form keeps the order of each key's values, not the order between keys: taken
    this way, the n-th keyword of an array of hashes gets the n-th value of each key.
    """
    lists = list(fields.lists())
    longest = max((len(values) for _key, values in lists), default=0)
    return [(key, values[n]) for n in range(longest) for key, values in lists if n < len(values)]


def _read_form(request: HttpRequest) -> None:
    """Put the form of the request, numbered as Rails reads it, in ``request.POST``, where
    the API's parser reads forms; JSON bodies are left alone."""
    if request.content_type not in (_FORM, _MULTIPART):
        return
    try:
        if request.content_type == _FORM:
            text = request.body.decode(request.encoding or "utf-8", errors="replace")
            pairs = parse_qsl(
                text,
                keep_blank_values=True,
                encoding=request.encoding or "utf-8",
                errors="replace",
                max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
            )
        else:
            # Parsed here from the body for every method: Django parses the forms of POST
            # requests only, and ninja reads the body afterwards (the stream must stay
            # unread). Fresh upload handlers, and files are not kept.
            handlers = [load_handler(path, request) for path in settings.FILE_UPLOAD_HANDLERS]
            fields, _files = MultiPartParser(
                request.META, io.BytesIO(request.body), handlers, request.encoding
            ).parse()
            pairs = _interleaved(fields)
    except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
        raise ApiError(413, _("La requête est trop volumineuse.")) from None
    except MultiPartParserError:
        raise ApiError(400, _("Le formulaire envoyé est illisible.")) from None
    except ValueError:
        # parse_qsl's way to refuse more fields than max_num_fields.
        raise ApiError(413, _("La requête est trop volumineuse.")) from None
    request.POST = rails_indexed(pairs)  # type: ignore[assignment,misc]


class SettingsWriter(OAuth):
    """A token whose role writes for the account (an editor or a publisher), as changing
    what the whole team reads (lists, filters, markers) needs; its form read as Rails
    reads it.

    Ninja authenticates before it reads the body, so the form is ready for the body
    schema when the view's parameters are read.
    """

    def authenticate(self, request: HttpRequest, token: str) -> Caller:
        call = super().authenticate(request, token)
        if Capability.WRITE_DRAFT not in call.capabilities:
            raise ApiError(
                403, _("Votre rôle sur ce compte ne permet pas de modifier ses réglages.")
            )
        _read_form(request)
        return call
