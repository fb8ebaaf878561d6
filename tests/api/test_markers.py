"""Markers and preferences through the API: versions, forms, the notifications read up to
the notifications marker, another account's markers, concurrent saves."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from parvis.api.endpoints.markers import save_marker
from parvis.api.models import Marker
from parvis.identity.models import Account, Staff
from parvis.interactions import services as interactions
from parvis.interactions.models import Notification
from parvis.publishing.services import Content, publish_post
from tests.api.conftest import Api
from tests.threads import in_threads

FORM = "application/x-www-form-urlencoded"


def send(api: Api, method: str, path: str, data: Any = None, *, form: bool = False):
    """A PUT or DELETE (or POST) with a JSON body, or an url-encoded form (pairs)."""
    headers = {"Authorization": f"Bearer {api.token}"}
    call = getattr(api.client, method)
    if form:
        return call(path, urlencode(data or []), content_type=FORM, headers=headers)
    return call(path, data or {}, content_type="application/json", headers=headers)


# --- markers ---------------------------------------------------------------------------


def test_markers_are_saved_with_versions(api: Api, account: Account) -> None:
    assert api.get("/api/v1/markers").json() == {}
    assert api.get("/api/v1/markers", {"timeline[]": ["home"]}).json() == {}
    saved = api.post("/api/v1/markers", {"home": {"last_read_id": "103194548672408537"}})
    assert saved.status_code == 200, saved.content
    home = saved.json()["home"]
    assert list(saved.json()) == ["home"]
    assert home["last_read_id"] == "103194548672408537" and home["version"] == 1
    assert home["updated_at"].endswith("Z")
    again = api.post("/api/v1/markers", {"home": {"last_read_id": 103194548672408600}}).json()
    assert again["home"]["version"] == 2
    # The form apps send: home[last_read_id]= and notifications[last_read_id]=.
    both = send(
        api,
        "post",
        "/api/v1/markers",
        [("home[last_read_id]", "103194548672408700"), ("notifications[last_read_id]", "35")],
        form=True,
    ).json()
    assert both["home"]["version"] == 3 and both["notifications"]["version"] == 1
    assert both["notifications"]["last_read_id"] == "35"
    read = api.get("/api/v1/markers", {"timeline[]": ["home", "notifications", "public"]}).json()
    assert set(read) == {"home", "notifications"} and read["home"] == both["home"]
    only = api.get("/api/v1/markers", {"timeline[]": ["notifications"]}).json()
    assert only == {"notifications": both["notifications"]}
    # Nothing given, nothing saved.
    assert api.post("/api/v1/markers", {}).json() == {}
    for body in (
        {"home": {"last_read_id": "abc"}},
        {"home": {"last_read_id": str(2**63)}},
        {"home": {}},
        {"home": "12"},
    ):
        assert api.post("/api/v1/markers", body).status_code == 422, body
    assert Marker.objects.get(account=account, timeline="home").version == 3


def test_markers_belong_to_their_account(
    api: Api, token_for, publisher: Staff, function_account: Account
) -> None:
    api.post("/api/v1/markers", {"home": {"last_read_id": "10"}})
    other = Api(token_for(publisher, function_account))
    assert other.get("/api/v1/markers", {"timeline[]": ["home"]}).json() == {}
    mine = other.post("/api/v1/markers", {"home": {"last_read_id": "20"}}).json()
    assert mine["home"]["version"] == 1
    assert api.get("/api/v1/markers", {"timeline[]": ["home"]}).json()["home"]["last_read_id"] == (
        "10"
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_marker_saves_lose_no_version(account: Account) -> None:
    # Six saves at once, the first ones racing to create the row: six versions, each
    # answered to the save that made it.
    versions = in_threads(lambda: save_marker(account, "home", 42).version, 6)
    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
    assert Marker.objects.get(account=account, timeline="home").version == 6


def test_the_notifications_marker_marks_notifications_read(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    for n in range(3):
        post = publish_post(publisher, function_account, Content(f"Question {n}, @ville ?"))
        interactions.notify(account, Notification.Kind.MENTION, function_account, post)
    _first, second, third = Notification.objects.filter(recipient=account).order_by("pk")
    assert api.get("/api/v1/notifications/unread_count").json() == {"count": 3}
    # Refused as a whole: nothing is marked read.
    refused = api.post(
        "/api/v1/markers",
        {"notifications": {"last_read_id": str(second.pk)}, "home": {"last_read_id": "x"}},
    )
    assert refused.status_code == 422
    assert api.get("/api/v1/notifications/unread_count").json() == {"count": 3}
    saved = api.post("/api/v1/markers", {"notifications": {"last_read_id": str(second.pk)}})
    assert saved.status_code == 200, saved.content
    assert api.get("/api/v1/notifications/unread_count").json() == {"count": 1}
    unread = Notification.objects.filter(recipient=account, read_at__isnull=True)
    assert list(unread) == [third]
    # The home marker leaves notifications alone.
    api.post("/api/v1/markers", {"home": {"last_read_id": str(third.pk)}})
    assert list(unread) == [third]


# --- preferences -----------------------------------------------------------------------


def test_preferences_have_mastodons_shape(api: Api, account: Account) -> None:
    response = api.get("/api/v1/preferences")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "posting:default:visibility": "public",
        "posting:default:sensitive": False,
        "posting:default:language": account.language,
        "reading:expand:media": "default",
        "reading:expand:spoilers": False,
        "reading:autoplay:gifs": False,
    }
