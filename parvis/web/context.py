"""Values every page template receives."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from parvis.web.lookups import language_prefix


def page_context(request: HttpRequest) -> dict[str, Any]:
    prefix = language_prefix(request)

    def switch_language(code: str) -> str:
        """The current page's path in language ``code``."""
        path = request.path_info.removeprefix(prefix) if prefix else request.path_info
        target = "" if code == settings.LANGUAGE_CODE else f"/{code}"
        query = request.META.get("QUERY_STRING", "")
        return f"{target}{path}" + (f"?{query}" if query else "")

    return {"prefix": prefix, "switch_language": switch_language}
