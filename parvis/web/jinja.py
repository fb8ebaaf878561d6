"""The Jinja2 environment of Parvis pages: Django's i18n, URLs and formats."""

import functools
from typing import Any

from django.conf import settings
from django.templatetags.static import static as django_static
from django.urls import reverse
from django.utils import formats, timezone, translation
from jinja2 import Environment


def url(name: str, *args: Any, **kwargs: Any) -> str:
    """``reverse()`` for templates."""
    return reverse(name, args=args or None, kwargs=kwargs or None)


def datetime_format(value: Any, fmt: str = "DATETIME_FORMAT") -> str:
    """Localised date and time in the server's time zone."""
    if value is None:
        return ""
    if hasattr(value, "tzinfo") and timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, fmt)


def iso(value: Any) -> str:
    return value.isoformat() if value else ""


# Message catalogues do not change while a process runs, and Django's gettext
# costs several context-local lookups per call: pages call it dozens of times.
_translated: dict[tuple[str | None, str], str] = {}
_translated_plural: dict[tuple[str | None, str, str, int], str] = {}


def gettext(message: str) -> str:
    key = (translation.get_language(), message)
    try:
        return _translated[key]
    except KeyError:
        value = _translated[key] = translation.gettext(message)
        return value


def ngettext(singular: str, plural: str, number: int) -> str:
    key = (translation.get_language(), singular, plural, number)
    try:
        return _translated_plural[key]
    except KeyError:
        if len(_translated_plural) > 10_000:
            _translated_plural.clear()
        value = _translated_plural[key] = translation.ngettext(singular, plural, number)
        return value


@functools.cache
def static(path: str) -> str:
    """URL of a static file (fixed for the life of the process)."""
    return django_static(path)


def environment(**options: Any) -> Environment:
    env = Environment(extensions=["jinja2.ext.i18n"], **options)  # noqa: S701 (autoescape set in settings)
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        {
            "url": url,
            "static": static,
            "site_name": settings.PARVIS_SITE_NAME,
            "languages": settings.LANGUAGES,
        }
    )
    env.filters.update({"datetime": datetime_format, "iso": iso})
    return env
