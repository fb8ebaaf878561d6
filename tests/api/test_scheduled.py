"""Scheduled statuses through the API: listed and shown to every role on the account,
moved and cancelled by the roles that publish, through the publishing services.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from parvis.api.entities import iso
from parvis.identity.models import Account, Staff
from parvis.publishing.models import Draft, Visibility
from parvis.publishing.services import (
    Content,
    publish_draft,
    save_draft,
    submit_draft,
    upload_media,
)
from tests.api.conftest import Api


def schedule(staff: Staff, account: Account, text: str, **content: Any) -> Draft:
    draft = save_draft(staff, account, Content(text, **content.pop("content", {})), **content)
    return publish_draft(staff, draft, scheduled_at=timezone.now() + timedelta(days=1))


def test_scheduled_statuses_are_listed_and_shown(
    api: Api,
    token_for: Callable[..., str],
    publisher: Staff,
    editor: Staff,
    account: Account,
    function_account: Account,
    jpeg: bytes,
) -> None:
    media = upload_media(publisher, account, jpeg, filename="a.jpg", description="Le parvis")
    first = schedule(publisher, account, "Demain", media_ids=[media.pk])
    second = schedule(
        publisher, account, "Aux abonnés", content={"visibility": Visibility.FOLLOWERS}
    )
    schedule(publisher, function_account, "Pas ce compte")
    submit_draft(publisher, save_draft(publisher, account, Content("En attente")))
    save_draft(publisher, account, Content("Brouillon"))
    listed = api.get("/api/v1/scheduled_statuses")
    assert listed.status_code == 200, listed.content
    assert [s["id"] for s in listed.json()] == [str(second.pk), str(first.pk)]
    newest = listed.json()[1]
    assert newest["scheduled_at"].endswith("Z")
    assert newest["params"]["text"] == "Demain" and newest["params"]["visibility"] == "public"
    assert newest["params"]["media_ids"] == [str(media.pk)]
    assert [m["id"] for m in newest["media_attachments"]] == [str(media.pk)]
    assert listed.json()[0]["params"]["visibility"] == "private"
    page = api.get("/api/v1/scheduled_statuses", {"limit": "1"})
    assert [s["id"] for s in page.json()] == [str(second.pk)]
    assert f"max_id={second.pk}" in page["Link"]
    one = api.get(f"/api/v1/scheduled_statuses/{first.pk}")
    assert one.status_code == 200 and one.json()["id"] == str(first.pk)
    # Another account's, a draft not scheduled, and what is no id are not found.
    other = Draft.objects.get(account=function_account)
    assert api.get(f"/api/v1/scheduled_statuses/{other.pk}").status_code == 404
    pending = Draft.objects.get(state=Draft.State.PENDING)
    assert api.get(f"/api/v1/scheduled_statuses/{pending.pk}").status_code == 404
    assert api.get("/api/v1/scheduled_statuses/demain").status_code == 404
    # An editor reads them too.
    editors = Api(token_for(editor, account))
    assert len(editors.get("/api/v1/scheduled_statuses").json()) == 2


def put_schedule(api: Api, scheduled_id: int | str, scheduled_at: str, *, form: bool = False):
    """PUT a new time, as JSON or as the form some clients send."""
    if form:
        body, kind = f"scheduled_at={scheduled_at}", "application/x-www-form-urlencoded"
    else:
        body, kind = json.dumps({"scheduled_at": scheduled_at}), "application/json"
    return api.client.put(
        f"/api/v1/scheduled_statuses/{scheduled_id}",
        body,
        content_type=kind,
        headers=api._headers(None),
    )


def scheduled_ids(api: Api) -> list[str]:
    return [entry["id"] for entry in api.get("/api/v1/scheduled_statuses").json()]


def test_statuses_posted_for_later_are_answered_as_they_are_listed(
    api: Api,
    token_for: Callable[..., str],
    publisher: Staff,
    editor: Staff,
    account: Account,
    jpeg: bytes,
) -> None:
    media = upload_media(publisher, account, jpeg, filename="a.jpg", description="Le parvis")
    later = (timezone.now() + timedelta(days=1)).isoformat()
    posted = api.post(
        "/api/v1/statuses",
        {
            "status": "Demain",
            "visibility": "private",
            "media_ids": [str(media.pk)],
            "scheduled_at": later,
        },
    )
    assert posted.status_code == 202, posted.content
    shown = api.get(f"/api/v1/scheduled_statuses/{posted.json()['id']}").json()
    assert posted.json() == shown
    assert shown["params"]["visibility"] == "private"
    assert shown["params"]["parvis_state"] == "scheduled"
    assert [m["id"] for m in shown["media_attachments"]] == [str(media.pk)]
    # Submitted for approval by an editor: the same entity, with no time yet.
    submitted = Api(token_for(editor, account)).post(
        "/api/v1/statuses", {"status": "Projet", "visibility": "unlisted"}
    )
    assert submitted.status_code == 202, submitted.content
    assert submitted.json()["scheduled_at"] is None
    assert submitted.json()["params"]["visibility"] == "unlisted"
    assert submitted.json()["params"]["parvis_state"] == "pending"


def test_a_scheduled_status_is_moved(api: Api, publisher: Staff, account: Account) -> None:
    draft = schedule(publisher, account, "Demain", content={"visibility": Visibility.FOLLOWERS})
    later = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    moved = put_schedule(api, draft.pk, later.isoformat())
    assert moved.status_code == 200, moved.content
    assert moved.json()["id"] == str(draft.pk)
    assert moved.json()["scheduled_at"] == iso(later)
    assert moved.json()["params"]["visibility"] == "private"
    draft.refresh_from_db()
    assert draft.state == Draft.State.SCHEDULED and draft.scheduled_at == later
    assert scheduled_ids(api) == [str(draft.pk)]
    # The form some clients send moves it too.
    sooner = later - timedelta(hours=1)
    by_form = put_schedule(api, draft.pk, sooner.isoformat().replace("+", "%2B"), form=True)
    assert by_form.status_code == 200, by_form.content
    draft.refresh_from_db()
    assert draft.scheduled_at == sooner


def test_a_scheduled_status_is_not_moved_to_a_time_it_cannot_take(
    api: Api, publisher: Staff, account: Account
) -> None:
    draft = schedule(publisher, account, "Demain")
    when = draft.scheduled_at
    soon = (timezone.now() + timedelta(minutes=1)).isoformat()
    for value, message, form in (
        (soon, "au moins 5 minutes dans le futur", False),
        ("2030-01-01T10:00:00", "préciser son fuseau", False),
        ("demain", "n'est pas une date", True),
        ("2030-02-30T10:00:00Z", "n'est pas une date", False),
        ("", "n'est pas une date", False),
    ):
        answer = put_schedule(api, draft.pk, value, form=form)
        assert answer.status_code == 422, (value, answer.content)
        assert message in answer.json()["error"], value
    draft.refresh_from_db()
    assert draft.state == Draft.State.SCHEDULED and draft.scheduled_at == when
    assert scheduled_ids(api) == [str(draft.pk)]


def test_a_cancelled_status_goes_back_to_the_drafts(
    api: Api, publisher: Staff, account: Account
) -> None:
    kept = schedule(publisher, account, "Après-demain")
    draft = schedule(publisher, account, "Demain")
    cancelled = api.delete(f"/api/v1/scheduled_statuses/{draft.pk}")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json() == {}
    assert scheduled_ids(api) == [str(kept.pk)]
    assert api.get(f"/api/v1/scheduled_statuses/{draft.pk}").status_code == 404
    draft.refresh_from_db()
    assert draft.state == Draft.State.DRAFT and draft.scheduled_at is None
    assert draft.text == "Demain"
    # Cancelled once: there is no scheduled status left to cancel.
    assert api.delete(f"/api/v1/scheduled_statuses/{draft.pk}").status_code == 404


def test_only_roles_that_publish_move_or_cancel(
    api: Api, token_for: Callable[..., str], publisher: Staff, editor: Staff, account: Account
) -> None:
    draft = schedule(publisher, account, "Demain")
    when = draft.scheduled_at
    later = (timezone.now() + timedelta(days=2)).isoformat()
    editors = Api(token_for(editor, account))
    refused = put_schedule(editors, draft.pk, later)
    assert refused.status_code == 403 and "publier" in refused.json()["error"]
    assert editors.delete(f"/api/v1/scheduled_statuses/{draft.pk}").status_code == 403
    # Unknown ids, and what is no id, are not found.
    assert put_schedule(api, 999999, later).status_code == 404
    assert api.delete("/api/v1/scheduled_statuses/999999").status_code == 404
    assert api.delete("/api/v1/scheduled_statuses/demain").status_code == 404
    draft.refresh_from_db()
    assert draft.state == Draft.State.SCHEDULED and draft.scheduled_at == when
