"""Moderation actions. Reports arrive here from every channel (Fediverse, web, API)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from parvis.identity.models import Account
from parvis.moderation.models import Report
from parvis.publishing.models import Post


@transaction.atomic
def file_report(
    *,
    target: Account,
    reporter: Account | None,
    posts: Sequence[Post] = (),
    comment: str = "",
    uri: str = "",
) -> Report:
    """Put a report in the moderation queue (once per ``uri`` when it has one)."""
    if uri:
        existing = Report.objects.filter(uri=uri).first()
        if existing is not None:
            return existing
    report = Report.objects.create(
        target=target, reporter=reporter, comment=comment[:5000], uri=uri
    )
    report.posts.set([p for p in posts if p.account_id == target.pk])
    return report
