"""Sending activities: stored once, one Delivery row per inbox, signed, retried for 72 hours.

A Delivery keeps its own state (pending, sent, given up), its attempts and the
time of the next one, so staff can see what reached whom. The task queue is
only the alarm clock: each attempt that fails reschedules the next one with a
growing delay, until the delivery succeeds, fails for good (404, 410) or has
been retried for longer than ``GIVE_UP_AFTER``.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from parvis.core import http
from parvis.core.tasks import RetryPolicy, background
from parvis.federation import ids
from parvis.federation.keys import keys_for, rsa_private_key
from parvis.federation.models import (
    BlockedDomain,
    Delivery,
    Follow,
    OutboundActivity,
    RemoteHost,
)
from parvis.federation.signatures import sign_cavage, sign_rfc9421
from parvis.identity.models import Account

logger = logging.getLogger(__name__)

# 60 s, 2 min, 4 min… capped at 6 h: the 20 attempts span about 75 hours.
RETRY = RetryPolicy(max_attempts=20, first_delay=60, factor=2, max_delay=6 * 3600)
GIVE_UP_AFTER = timedelta(hours=72)
PERMANENT_FAILURES = {400, 403, 404, 405, 410, 413, 422}
ACTIVITY_TYPE = "application/activity+json"
DELIVERY_TIMEOUT = 20.0


def follower_inboxes(account: Account) -> list[str]:
    """Distinct inboxes that must receive the account's posts (shared inboxes first)."""
    inboxes: list[str] = []
    seen: set[str] = set()
    for follow in Follow.objects.filter(target=account, state=Follow.State.ACCEPTED).select_related(
        "follower"
    ):
        inbox = follow.follower.delivery_inbox
        if inbox not in seen:
            seen.add(inbox)
            inboxes.append(inbox)
    return inboxes


@transaction.atomic
def queue_activity(account: Account, document: dict[str, Any], inboxes: list[str]) -> int:
    """Store ``document`` once and a pending Delivery per inbox; return how many were new.

    Idempotent: queueing the same activity id again adds no delivery twice.
    """
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    activity, _created = OutboundActivity.objects.get_or_create(
        uri=document["id"], defaults={"actor": account, "body": body}
    )
    inboxes = [i for i in inboxes if not BlockedDomain.covers(urlsplit(i).hostname or "")]
    domains = {urlsplit(inbox).hostname or "" for inbox in inboxes}
    RemoteHost.objects.bulk_create([RemoteHost(domain=d) for d in domains], ignore_conflicts=True)
    hosts = {h.domain: h for h in RemoteHost.objects.filter(domain__in=domains)}
    existing = set(activity.deliveries.values_list("inbox", flat=True))
    new = [
        Delivery(activity=activity, inbox=inbox, host=hosts[urlsplit(inbox).hostname or ""])
        for inbox in inboxes
        if inbox not in existing
    ]
    Delivery.objects.bulk_create(new, ignore_conflicts=True)
    # A host that failed for a whole retry window is not tried again until it
    # speaks to us (an inbound signed request clears the mark).
    activity.deliveries.filter(
        state=Delivery.State.PENDING, attempts=0, host__unavailable_since__isnull=False
    ).update(state=Delivery.State.GIVEN_UP, last_error="host unavailable")
    for delivery in activity.deliveries.filter(state=Delivery.State.PENDING, attempts=0):
        deliver.enqueue(delivery.pk)
    return len(new)


def _signed_headers(delivery: Delivery, scheme: str) -> dict[str, str]:
    account = delivery.activity.actor
    key = rsa_private_key(keys_for(account))
    body = delivery.activity.body.encode()
    headers = {"Content-Type": ACTIVITY_TYPE, "Accept": ACTIVITY_TYPE}
    sign = sign_rfc9421 if scheme == "rfc9421" else sign_cavage
    headers.update(sign("POST", delivery.inbox, headers, body, ids.rsa_key_id(account), key))
    return headers


def _post(delivery: Delivery, scheme: str) -> http.Response:
    return http.fetch(
        delivery.inbox,
        method="POST",
        headers=_signed_headers(delivery, scheme),
        body=delivery.activity.body.encode(),
        timeout=DELIVERY_TIMEOUT,
        max_redirects=0,
        max_bytes=64 * 1024,
        domain=delivery.activity.actor.domain.name,
    )


def _retry_after(response: http.Response) -> timedelta | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=min(int(value), 24 * 3600))
    try:
        return max(parsedate_to_datetime(value) - timezone.now(), timedelta(0))
    except (TypeError, ValueError):
        return None


def attempt(delivery: Delivery) -> None:
    """Try to send one delivery now and record the outcome."""
    host = delivery.host
    scheme = host.signature_scheme
    now = timezone.now()
    delivery.attempts += 1
    wait: timedelta | None = None
    try:
        response = _post(delivery, scheme)
        if response.status == 401:
            # Double-knocking: the host may only accept the other signature scheme.
            other = "rfc9421" if scheme == "cavage" else "cavage"
            retried = _post(delivery, other)
            if retried.status < 300:
                RemoteHost.objects.filter(pk=host.pk).update(signature_scheme=other)
            response = retried
        delivery.last_status = response.status
        delivery.last_error = ""
        if response.status < 300:
            delivery.state = Delivery.State.SENT
            delivery.sent_at = now
            RemoteHost.objects.filter(pk=host.pk).update(
                consecutive_failures=0, last_success_at=now, unavailable_since=None
            )
            delivery.save()
            return
        if response.status in PERMANENT_FAILURES:
            delivery.state = Delivery.State.GIVEN_UP
            delivery.last_error = f"HTTP {response.status}: permanent refusal"
            delivery.save()
            return
        if response.status == 429:
            wait = _retry_after(response)
        delivery.last_error = f"HTTP {response.status}"
    except http.FetchError as error:
        delivery.last_status = None
        delivery.last_error = str(error)[:1000]
    RemoteHost.objects.filter(pk=host.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now
    )
    if delivery.attempts >= RETRY.max_attempts or now - delivery.created_at >= GIVE_UP_AFTER:
        delivery.state = Delivery.State.GIVEN_UP
        delivery.save()
        RemoteHost.objects.filter(pk=host.pk, unavailable_since__isnull=True).update(
            unavailable_since=now
        )
        logger.warning(
            "delivery %s to %s given up: %s", delivery.pk, delivery.inbox, delivery.last_error
        )
        return
    delivery.next_attempt_at = now + (wait or RETRY.delay(delivery.attempts))
    delivery.save()
    deliver.using(run_after=delivery.next_attempt_at).enqueue(delivery.pk)


# While one worker attempts a delivery, others leave it alone for this long.
ATTEMPT_LEASE = timedelta(minutes=2)


@background(queue="federation", retry=RetryPolicy(max_attempts=3, first_delay=30))
def deliver(delivery_id: int) -> str:
    """Attempt a delivery if it is still pending and due (safe to run twice).

    The claim is one conditional UPDATE, so two workers never send the same
    attempt, and no transaction stays open during the network call (SQLite
    would block every writer meanwhile).
    """
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id,
        state=Delivery.State.PENDING,
        next_attempt_at__lte=now + timedelta(seconds=1),
    ).update(next_attempt_at=now + ATTEMPT_LEASE)
    if not claimed:
        return "not due"
    delivery = Delivery.objects.select_related("activity__actor__domain", "host").get(
        pk=delivery_id
    )
    attempt(delivery)
    return delivery.state
