"""Inboxes: check everything at the door, store the activity, answer 202.

The order of checks is the cheapest refusal first: size, JSON shape, then the
signature (which may fetch the signer's key), then that the signer is the
activity's actor and that the activity lives on the actor's origin. Only then
is the raw activity stored (once per id) and handed to a task.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from parvis.core.clients import client_ip, rate_limited
from parvis.federation import signatures
from parvis.federation.inbox import object_id
from parvis.federation.models import BlockedDomain, InboundActivity, RemoteActor, RemoteHost
from parvis.federation.origins import same_origin
from parvis.federation.remote import RemoteError
from parvis.federation.verification import verify_request
from parvis.federation.views.errors import refuse
from parvis.identity.lookups import find_account

MAX_BODY = 1024 * 1024


@csrf_exempt
@require_POST
def inbox(
    request: HttpRequest, handle: str | None = None, domain: str | None = None
) -> HttpResponse:
    """A personal inbox (``/@handle/inbox``) or the shared inbox of a domain (``/inbox``)."""
    wait = rate_limited(
        "inbox", client_ip(request), limit=settings.PARVIS_INBOX_RATE_PER_MINUTE, window=60
    )
    if wait is not None:
        response = refuse(429, "Too many deliveries from this address; retry later.")
        response["Retry-After"] = str(wait)
        return response
    if handle is not None:
        find_account(request, handle, domain)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return refuse(413, f"The body is over {MAX_BODY} bytes.")
    body = request.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return refuse(413, f"The body is over {MAX_BODY} bytes.")
    try:
        activity = json.loads(body)
    except (ValueError, RecursionError):
        return refuse(400, "The body is not JSON.")
    if not isinstance(activity, dict):
        return refuse(400, "The body is not a JSON object.")
    activity_id, kind = activity.get("id"), activity.get("type")
    actor = object_id(activity.get("actor"))
    if not isinstance(activity_id, str) or not activity_id.startswith(("https://", "http://")):
        return refuse(400, "The activity has no id URL.")
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        return refuse(400, "The activity has no type.")
    if not actor:
        return refuse(400, "The activity has no actor.")
    actor_host = urlsplit(actor).hostname or ""
    if BlockedDomain.covers(actor_host):
        return refuse(403, f"{actor_host} is blocked by this server.")
    if (
        kind == "Delete"
        and object_id(activity.get("object")) == actor
        and not RemoteActor.objects.filter(uri=actor).exists()
    ):
        # A deleted account Parvis never knew: there is nothing to delete, and its
        # key can no longer be fetched. Acknowledged so its server stops retrying.
        return HttpResponse(status=202)
    try:
        signer = verify_request(request, body)
    except signatures.MalformedSignature as error:
        return refuse(400, f"Malformed signature: {error}")
    except (signatures.SignatureError, RemoteError) as error:
        return refuse(401, f"Signature not accepted: {error}")
    if signer != actor:
        return refuse(401, f"The request is signed by {signer}, not by the actor {actor}.")
    if not same_origin(activity_id, actor):
        return refuse(400, "The activity id is not on the actor's origin.")
    RemoteHost.heard_from(actor_host)
    # The worker's inbound drain (parvis.federation.inbox) claims it from there; an
    # activity already received changes nothing twice.
    InboundActivity.receive(
        uri=activity_id,
        actor_uri=actor,
        kind=kind,
        object_uri=object_id(activity.get("object"))[:2048],
        body=body.decode(),
    )
    return HttpResponse(status=202)
