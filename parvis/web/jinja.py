"""The Jinja2 environment of Parvis pages: Django's i18n, URLs and formats."""

from typing import Any

from django.conf import settings
from django.templatetags.static import static
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


def environment(**options: Any) -> Environment:
    env = Environment(extensions=["jinja2.ext.i18n"], **options)  # noqa: S701 (autoescape set in settings)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        translation.gettext, translation.ngettext, newstyle=True
    )
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
