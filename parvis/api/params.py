"""Request bodies as Mastodon reads them: JSON, or forms in Rails' bracket notation.

Mastodon apps send ``media_ids[]=1&media_ids[]=2`` or ``poll[options][]=a`` as forms, or
the same as JSON. Both become the same nested data here, so that one schema validates
them. Query strings get the same treatment (``types[]=mention``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from ninja.parser import Parser

from parvis.api.errors import ApiError

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
