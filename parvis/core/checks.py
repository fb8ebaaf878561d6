"""Configuration sanity checks, run by ``parvis check`` (and ``--deploy``)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.db import DatabaseError, connection


@register()
def database_reachable(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        return [Error(f"Database unreachable: {exc}", hint="Check DATABASE_URL.", id="parvis.E001")]
    return []


@register()
def storage_writable(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for name, path in (
        ("PARVIS_DATA_DIR", settings.DATA_DIR),
        ("PARVIS_MEDIA_ROOT", settings.MEDIA_ROOT),
    ):
        target = path if path.exists() else path.parent
        if not os.access(target, os.W_OK):
            problems.append(Error(f"{name} ({path}) is not writable.", id="parvis.E002"))
    return problems


@register()
def limits_sane(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if settings.PARVIS_MAX_POST_CHARS < 1:
        problems.append(Error("PARVIS_MAX_POST_CHARS must be positive.", id="parvis.E003"))
    if settings.PARVIS_URL_SCHEME not in ("http", "https"):
        problems.append(Error("PARVIS_URL_SCHEME must be http or https.", id="parvis.E004"))
    return problems


@register(deploy=True)
def production_ready(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if not os.environ.get("PARVIS_SECRET_KEY"):
        problems.append(
            Warning(
                "PARVIS_SECRET_KEY is not set: a key generated in the data directory is used.",
                hint="Set PARVIS_SECRET_KEY to the same long random value on every process.",
                id="parvis.W001",
            )
        )
    if settings.PARVIS_URL_SCHEME != "https":
        problems.append(
            Warning("Canonical URLs use http; the Fediverse expects https.", id="parvis.W002")
        )
    if (
        settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        and not settings.PARVIS_EMBEDDED_WORKER
    ):
        problems.append(
            Warning(
                "SQLite with separate workers: prefer PostgreSQL for several processes.",
                id="parvis.W003",
            )
        )
    try:
        from parvis.identity.models import Domain

        hosted = list(Domain.objects.values_list("name", flat=True))
    except DatabaseError:
        hosted = []
    allowed = settings.ALLOWED_HOSTS
    for name in hosted:
        if (
            "*" not in allowed
            and name not in allowed
            and not any(a.startswith(".") and name.endswith(a) for a in allowed)
        ):
            problems.append(
                Error(
                    f"Hosted domain {name} is missing from PARVIS_ALLOWED_HOSTS.", id="parvis.E005"
                )
            )
    return problems
