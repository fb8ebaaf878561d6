"""One URL, two representations: HTML for browsers, ActivityStreams JSON for servers."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

ACTIVITY_TYPES = ("application/activity+json", "application/ld+json")

View = Callable[..., HttpResponse]


def wants_activity_json(request: HttpRequest) -> bool:
    """True when the client asks for ActivityStreams JSON rather than HTML."""
    accept = request.headers.get("Accept", "")
    return any(kind in accept for kind in ACTIVITY_TYPES)


def negotiated(html: View, activity: View) -> View:
    """A view that answers with ``activity`` or ``html`` according to Accept."""

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        chosen = activity if wants_activity_json(request) else html
        response = chosen(request, *args, **kwargs)
        patch_vary_headers(response, ("Accept",))
        return response

    view.__name__ = f"negotiated_{html.__name__}"
    return view
