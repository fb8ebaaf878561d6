"""Notifications through the API: the list, its filters and pages, groups, dismissal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parvis.identity.models import Account, Staff
from parvis.identity.services import RemoteProfile, record_remote_account
from parvis.interactions.models import Notification, Reaction
from parvis.interactions.services import mark_notifications_read, notify, react, record_follow
from parvis.publishing.models import Post
from parvis.publishing.services import Content, delete_post, publish_post
from tests.api.conftest import Api

NOTIFICATION_FIELDS = {"id", "type", "group_key", "created_at", "account", "status"}
GROUP_FIELDS = {
    "group_key", "notifications_count", "type", "most_recent_notification_id", "page_min_id",
    "page_max_id", "latest_page_notification_at", "sample_account_ids", "status_id",
}  # fmt: skip
# Half past midnight UTC: every time of these tests stays inside one 12-hour window.
SOON_AFTER_MIDNIGHT = datetime(2025, 3, 4, 0, 30, tzinfo=UTC)


def remote(name: str) -> Account:
    return record_remote_account(
        RemoteProfile(
            uri=f"https://mastodon.example/users/{name}",
            handle=name,
            host="mastodon.example",
            display_name=name.title(),
        )
    )


def at(notification_pk: int, moment: datetime) -> None:
    """Pin a notification's time, so that its group does not depend on the clock."""
    Notification.objects.filter(pk=notification_pk).update(created_at=moment)


def latest() -> Notification:
    return Notification.objects.order_by("-pk").first()  # type: ignore[return-value]


@pytest.fixture
def post(publisher: Staff, account: Account) -> Post:
    return publish_post(publisher, account, Content("Conseil municipal jeudi"))


def test_the_list_has_mastodons_shapes(
    api: Api, account: Account, publisher: Staff, function_account: Account, post: Post
) -> None:
    alice = remote("alice")
    record_follow(alice, account, "", approved=True)
    react(alice, post, Reaction.Kind.FAVOURITE)
    mention = publish_post(publisher, function_account, Content("Réponse à @ville"))
    notify(account, Notification.Kind.MENTION, function_account, mention)
    response = api.get("/api/v1/notifications")
    assert response.status_code == 200, response.content
    items = response.json()
    assert [n["type"] for n in items] == ["mention", "favourite", "follow"]
    for item in items:
        assert set(item) >= NOTIFICATION_FIELDS
        assert item["created_at"].endswith("Z") and len(item["created_at"]) == 24
    mentioned, favourite, follow = items
    assert mentioned["account"]["id"] == str(function_account.pk)
    assert mentioned["status"]["id"] == str(mention.pk)
    assert mentioned["group_key"] == f"ungrouped-{mentioned['id']}"
    assert favourite["account"]["acct"] == "alice@mastodon.example"
    assert favourite["status"]["id"] == str(post.pk)
    assert favourite["status"]["favourites_count"] == 1
    assert favourite["group_key"].startswith(f"favourite-{post.pk}-")
    assert follow["status"] is None and follow["group_key"].startswith("follow-")
    one = api.get(f"/api/v1/notifications/{follow['id']}")
    assert one.status_code == 200 and one.json() == follow


def test_a_move_names_the_new_account(api: Api, account: Account) -> None:
    alice, bob = remote("alice"), remote("bob")
    Account.objects.filter(pk=alice.pk).update(moved_to=bob)
    notify(account, Notification.Kind.MOVE, alice)
    moved = api.get("/api/v1/notifications").json()[0]
    assert moved["type"] == "move" and moved["account"]["id"] == str(alice.pk)
    assert moved["target"]["id"] == str(bob.pk)


def test_pages_follow_link_headers(api: Api, account: Account) -> None:
    for n in range(5):
        record_follow(remote(f"abonne{n}"), account, "", approved=True)
    ids = list(
        Notification.objects.filter(recipient=account).order_by("-pk").values_list("pk", flat=True)
    )
    first = api.get("/api/v1/notifications", {"limit": "2"})
    assert [int(n["id"]) for n in first.json()] == ids[:2]
    assert f"max_id={ids[1]}" in first["Link"] and f"min_id={ids[0]}" in first["Link"]
    second = api.get("/api/v1/notifications", {"limit": "2", "max_id": str(ids[1])})
    assert [int(n["id"]) for n in second.json()] == ids[2:4]
    newer = api.get("/api/v1/notifications", {"limit": "2", "min_id": str(ids[4])})
    assert [int(n["id"]) for n in newer.json()] == ids[2:4]
    since = api.get("/api/v1/notifications", {"since_id": str(ids[2])})
    assert [int(n["id"]) for n in since.json()] == ids[:2]
    for bad in ({"max_id": "abc"}, {"limit": "beaucoup"}):
        assert api.get("/api/v1/notifications", bad).status_code == 400


def test_types_exclude_types_and_account_id(
    api: Api, account: Account, post: Post, function_account: Account
) -> None:
    alice, bob = remote("alice"), remote("bob")
    record_follow(alice, account, "", approved=True)
    react(alice, post, Reaction.Kind.FAVOURITE)
    react(bob, post, Reaction.Kind.BOOST)
    record_follow(bob, account, "", approved=False)

    def kinds(query: dict[str, object]) -> list[str]:
        response = api.get("/api/v1/notifications", query)
        assert response.status_code == 200, response.content
        return [n["type"] for n in response.json()]

    assert kinds({"types[]": ["favourite", "reblog"]}) == ["reblog", "favourite"]
    assert kinds({"types[]": "follow_request"}) == ["follow_request"]
    assert kinds({"exclude_types[]": ["follow", "follow_request"]}) == ["reblog", "favourite"]
    assert kinds({"account_id": str(alice.pk)}) == ["favourite", "follow"]
    assert kinds({"account_id": str(function_account.pk)}) == []
    assert kinds({"types[]": ["poll", "status"]}) == []
    filtered = api.get("/api/v1/notifications", {"types[]": "follow", "limit": "1"})
    assert "types%5B%5D=follow" in filtered["Link"]
    assert api.get("/api/v1/notifications", {"account_id": "abc"}).status_code == 404


def test_deleted_posts_take_their_notifications_away(
    api: Api, account: Account, publisher: Staff, post: Post
) -> None:
    react(remote("alice"), post, Reaction.Kind.FAVOURITE)
    assert len(api.get("/api/v1/notifications").json()) == 1
    delete_post(publisher, post)
    assert api.get("/api/v1/notifications").json() == []


def test_another_accounts_notifications_are_not_found(
    api: Api, account: Account, function_account: Account
) -> None:
    alice = remote("alice")
    record_follow(alice, function_account, "", approved=True)
    theirs = latest()
    record_follow(alice, account, "", approved=True)
    mine = latest()
    for path in (
        f"/api/v1/notifications/{theirs.pk}",
        "/api/v1/notifications/abc",
        "/api/v1/notifications/99999999999999999999",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert list(response.json()) == ["error"]
    assert api.post(f"/api/v1/notifications/{theirs.pk}/dismiss").status_code == 404
    assert Notification.objects.filter(pk=theirs.pk).exists()
    dismissed = api.post(f"/api/v1/notifications/{mine.pk}/dismiss")
    assert dismissed.status_code == 200 and dismissed.json() == {}
    assert not Notification.objects.filter(pk=mine.pk).exists()
    assert api.post(f"/api/v1/notifications/{mine.pk}/dismiss").status_code == 404


def test_clear_empties_only_the_tokens_account(
    api: Api, account: Account, function_account: Account
) -> None:
    for n in range(3):
        follower = remote(f"abonne{n}")
        record_follow(follower, account, "", approved=True)
        record_follow(follower, function_account, "", approved=True)
    cleared = api.post("/api/v1/notifications/clear")
    assert cleared.status_code == 200 and cleared.json() == {}
    assert api.get("/api/v1/notifications").json() == []
    assert not Notification.objects.filter(recipient=account).exists()
    assert Notification.objects.filter(recipient=function_account).count() == 3


def test_unread_count(api: Api, account: Account, post: Post) -> None:
    for n in range(3):
        react(remote(f"lecteur{n}"), post, Reaction.Kind.FAVOURITE)
    record_follow(remote("alice"), account, "", approved=True)
    assert api.get("/api/v1/notifications/unread_count").json() == {"count": 4}
    assert api.get("/api/v1/notifications/unread_count", {"limit": "2"}).json() == {"count": 2}
    only = api.get("/api/v1/notifications/unread_count", {"types[]": "follow"})
    assert only.json() == {"count": 1}
    mark_notifications_read(account)
    assert api.get("/api/v1/notifications/unread_count").json() == {"count": 0}


def test_scopes_are_checked(token_for, publisher: Staff, account: Account) -> None:
    reader = Api(token_for(publisher, account, scope="read"))
    assert reader.get("/api/v1/notifications").status_code == 200
    assert reader.post("/api/v1/notifications/clear").status_code == 403
    statuses_only = Api(token_for(publisher, account, scope="read:statuses"))
    assert statuses_only.get("/api/v1/notifications").status_code == 403
    assert Api().get("/api/v1/notifications").status_code == 401
    assert Api().get("/api/v2/notifications").status_code == 401


def test_grouped_notifications(
    api: Api, account: Account, publisher: Staff, function_account: Account, post: Post
) -> None:
    other = publish_post(publisher, account, Content("Fermeture de la piscine"))
    alice, bob, carol = remote("alice"), remote("bob"), remote("carol")
    react(alice, post, Reaction.Kind.FAVOURITE)
    react(carol, other, Reaction.Kind.FAVOURITE)
    record_follow(alice, account, "", approved=True)
    react(bob, post, Reaction.Kind.FAVOURITE)
    mention = publish_post(publisher, function_account, Content("Merci @ville"))
    notify(account, Notification.Kind.MENTION, function_account, mention)
    record_follow(bob, account, "", approved=True)
    for n, row in enumerate(Notification.objects.filter(recipient=account).order_by("pk")):
        at(row.pk, SOON_AFTER_MIDNIGHT + timedelta(minutes=n))
    response = api.get("/api/v2/notifications")
    assert response.status_code == 200, response.content
    body = response.json()
    groups = body["notification_groups"]
    assert [(g["type"], g["notifications_count"]) for g in groups] == [
        ("follow", 2),
        ("mention", 1),
        ("favourite", 2),
        ("favourite", 1),
    ]
    for group in groups:
        assert set(group) >= GROUP_FIELDS
    follows, mentioned, favourites, single = groups
    assert follows["sample_account_ids"] == [str(bob.pk), str(alice.pk)]
    assert follows["status_id"] is None
    assert favourites["status_id"] == str(post.pk) and single["status_id"] == str(other.pk)
    assert favourites["sample_account_ids"] == [str(bob.pk), str(alice.pk)]
    assert mentioned["group_key"] == f"ungrouped-{mentioned['most_recent_notification_id']}"
    assert mentioned["sample_account_ids"] == [str(function_account.pk)]
    # The grouped list and the plain one give a notification the same key.
    plain = {n["id"]: n["group_key"] for n in api.get("/api/v1/notifications").json()}
    for group in groups:
        assert plain[group["most_recent_notification_id"]] == group["group_key"]
        assert group["page_max_id"] == group["most_recent_notification_id"]
        assert int(group["page_min_id"]) <= int(group["page_max_id"])
    assert int(favourites["page_min_id"]) < int(favourites["page_max_id"])
    account_ids = [a["id"] for a in body["accounts"]]
    assert sorted(account_ids) == sorted({str(a.pk) for a in (alice, bob, carol, function_account)})
    assert {s["id"] for s in body["statuses"]} == {str(post.pk), str(other.pk), str(mention.pk)}
    assert 'rel="next"' in response["Link"]
    # An app that groups favourites only gets its follows one by one.
    only = api.get("/api/v2/notifications", {"grouped_types[]": "favourite"}).json()
    kinds = [(g["type"], g["notifications_count"]) for g in only["notification_groups"]]
    assert kinds == [
        ("follow", 1),
        ("mention", 1),
        ("favourite", 2),
        ("follow", 1),
        ("favourite", 1),
    ]
    favourites_only = api.get("/api/v2/notifications", {"types[]": "favourite"}).json()
    assert [g["notifications_count"] for g in favourites_only["notification_groups"]] == [2, 1]


def test_grouped_pages_count_what_lies_below(api: Api, account: Account, post: Post) -> None:
    alice, bob = remote("alice"), remote("bob")
    react(alice, post, Reaction.Kind.FAVOURITE)
    first = latest()
    record_follow(alice, account, "", approved=False)
    request = latest()
    react(bob, post, Reaction.Kind.FAVOURITE)
    second = latest()
    for n, row in enumerate((first, request, second)):
        at(row.pk, SOON_AFTER_MIDNIGHT + timedelta(minutes=n))
    page = api.get("/api/v2/notifications", {"limit": "1"})
    (group,) = page.json()["notification_groups"]
    assert group["type"] == "favourite" and group["notifications_count"] == 2
    assert group["page_min_id"] == group["page_max_id"] == str(second.pk)
    assert group["sample_account_ids"] == [str(bob.pk), str(alice.pk)]
    assert f"max_id={second.pk}" in page["Link"]
    following = api.get("/api/v2/notifications", {"limit": "1", "max_id": str(second.pk)})
    assert [g["type"] for g in following.json()["notification_groups"]] == ["follow_request"]
    last = api.get("/api/v2/notifications", {"limit": "5", "max_id": str(request.pk)}).json()
    (older,) = last["notification_groups"]
    assert older["group_key"] == group["group_key"] and older["notifications_count"] == 1
    assert older["most_recent_notification_id"] == str(first.pk)
    newer = api.get("/api/v2/notifications", {"limit": "1", "min_id": str(first.pk)}).json()
    assert [g["type"] for g in newer["notification_groups"]] == ["follow_request"]
    assert api.get("/api/v2/notifications", {"since_id": str(second.pk)}).json() == {
        "accounts": [],
        "statuses": [],
        "notification_groups": [],
    }


def test_groups_close_after_twelve_hours(api: Api, account: Account, post: Post) -> None:
    for n, hours in enumerate((0, 2, 13)):
        react(remote(f"lecteur{n}"), post, Reaction.Kind.FAVOURITE)
        at(latest().pk, SOON_AFTER_MIDNIGHT + timedelta(hours=hours))
    groups = api.get("/api/v2/notifications").json()["notification_groups"]
    assert [g["notifications_count"] for g in groups] == [1, 2]
    assert groups[0]["group_key"] != groups[1]["group_key"]


def test_queries_do_not_grow_with_the_page(
    api: Api, account: Account, post: Post, django_assert_max_num_queries
) -> None:
    for n in range(3):
        react(remote(f"lecteur{n}"), post, Reaction.Kind.FAVOURITE)
        record_follow(remote(f"abonne{n}"), account, "", approved=False)
    with django_assert_max_num_queries(20) as few:
        assert len(api.get("/api/v1/notifications").json()) == 6
    for n in range(3, 20):
        react(remote(f"lecteur{n}"), post, Reaction.Kind.FAVOURITE)
        record_follow(remote(f"abonne{n}"), account, "", approved=False)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get("/api/v1/notifications").json()) == 40
    with django_assert_max_num_queries(25):
        body = api.get("/api/v2/notifications").json()
    assert len(body["notification_groups"]) == 21


def test_a_group_read_counted_listed_and_dismissed_by_its_key(
    api: Api, account: Account, post: Post, token_for, publisher: Staff, function_account: Account
) -> None:
    alice, bob = remote("alice"), remote("bob")
    react(alice, post, Reaction.Kind.FAVOURITE)
    record_follow(alice, account, "", approved=True)
    react(bob, post, Reaction.Kind.FAVOURITE)
    for n, row in enumerate(Notification.objects.filter(recipient=account).order_by("pk")):
        at(row.pk, SOON_AFTER_MIDNIGHT + timedelta(minutes=n))
    listed = api.get("/api/v2/notifications").json()["notification_groups"]
    favourites, follow = listed
    key = favourites["group_key"]
    assert key == f"favourite-{post.pk}-{int(SOON_AFTER_MIDNIGHT.timestamp()) // 3600}"
    # Two groups hold unread notifications; the plain count counts notifications.
    assert api.get("/api/v2/notifications/unread_count").json() == {"count": 2}
    assert api.get("/api/v1/notifications/unread_count").json() == {"count": 3}
    grouped_limit = api.get("/api/v2/notifications/unread_count", {"limit": "1"})
    assert grouped_limit.json() == {"count": 1}
    one = api.get(f"/api/v2/notifications/{key}")
    assert one.status_code == 200, one.content
    (group,) = one.json()["notification_groups"]
    assert group["notifications_count"] == 2
    assert group["sample_account_ids"] == [str(bob.pk), str(alice.pk)]
    assert int(group["page_min_id"]) < int(group["page_max_id"])
    assert [s["id"] for s in one.json()["statuses"]] == [str(post.pk)]
    accounts = api.get(f"/api/v2/notifications/{key}/accounts")
    assert [a["id"] for a in accounts.json()] == [str(bob.pk), str(alice.pk)]
    # Another account's token knows no such group, and cannot dismiss it.
    other = Api(token_for(publisher, function_account))
    assert other.get(f"/api/v2/notifications/{key}").status_code == 404
    assert other.post(f"/api/v2/notifications/{key}/dismiss").status_code == 404
    assert api.post(f"/api/v2/notifications/{key}/dismiss").json() == {}
    remaining = api.get("/api/v2/notifications").json()["notification_groups"]
    assert [g["group_key"] for g in remaining] == [follow["group_key"]]
    assert api.get(f"/api/v2/notifications/{key}").status_code == 404
    assert api.post(f"/api/v2/notifications/{key}/dismiss").status_code == 404
    # The key of a notification alone works too.
    mention = publish_post(publisher, function_account, Content("Merci @ville"))
    notify(account, Notification.Kind.MENTION, function_account, mention)
    alone = f"ungrouped-{latest().pk}"
    assert (
        api.get(f"/api/v2/notifications/{alone}").json()["notification_groups"][0]["group_key"]
        == alone
    )


@pytest.mark.parametrize(
    "key",
    [
        "nonsense",
        "favourite-12",  # a favourite group names its status
        "follow-1-481008",  # a follow group names none
        "mention-1-481008",  # mentions are never grouped
        "favourite-1-481009",  # not the start of a 12-hour window
        "ungrouped-99999999999999999999",
        "follow-" + "9" * 40,
    ],
)
def test_malformed_group_keys_are_not_found(api: Api, key: str) -> None:
    for path in (f"/api/v2/notifications/{key}", f"/api/v2/notifications/{key}/accounts"):
        answer = api.get(path)
        assert answer.status_code == 404, (path, answer.content)
        assert "error" in answer.json()
    assert api.post(f"/api/v2/notifications/{key}/dismiss").status_code == 404
