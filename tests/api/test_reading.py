"""Instance, accounts and timelines: the shapes strict clients expect, pagination, bad ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from parvis.identity.models import Account, AccountKind, Staff
from parvis.interactions.services import record_follow
from parvis.publishing.models import Visibility
from parvis.publishing.received import ReceivedContent, ReceivedPoll, record_received_post
from parvis.publishing.services import Content, publish_post
from tests.api.conftest import Api

ACCOUNT_FIELDS = {
    "id", "username", "acct", "display_name", "locked", "bot", "discoverable", "indexable",
    "group", "created_at", "note", "url", "uri", "avatar", "avatar_static", "header",
    "header_static", "followers_count", "following_count", "statuses_count", "last_status_at",
    "hide_collections", "noindex", "emojis", "roles", "fields",
}  # fmt: skip


def test_instance_with_and_without_slash(db) -> None:
    for path in ("/api/v1/instance", "/api/v1/instance/"):
        response = Api().get(path)
        assert response.status_code == 200, path
        assert response.json()["version"].startswith("4.5.0 (compatible; Parvis ")
    assert Api().get("/api/v2/instance/").status_code == 200
    v2 = Api().get("/api/v2/instance").json()
    assert v2["api_versions"] == {"mastodon": 2}
    assert v2["configuration"]["statuses"]["max_characters"] > 0


def test_account_entities_have_every_field(api: Api, account: Account) -> None:
    me = api.get("/api/v1/accounts/verify_credentials").json()
    assert set(me) >= ACCOUNT_FIELDS
    assert me["source"]["privacy"] == "public"
    assert me["acct"] == "ville"  # on its own domain
    assert me["parvis"]["institution"] == "Ville de Blois"
    public = Api().get(f"/api/v1/accounts/{account.pk}").json()
    assert set(public) >= ACCOUNT_FIELDS and public.get("source") is None
    looked_up = Api().get("/api/v1/accounts/lookup", {"acct": "ville@social.blois.fr"})
    assert looked_up.json()["id"] == str(account.pk)


def test_unknown_and_malformed_ids_are_404_not_500(db) -> None:
    for path in (
        "/api/v1/no_such_endpoint",
        "/api/v3/instance",
        "/api/v1/accounts/999999",
        "/api/v1/accounts/abc",
        "/api/v1/accounts/99999999999999999999999",
        "/api/v1/statuses/1e5",
        "/api/v1/accounts/lookup?acct=nobody",
    ):
        response = Api().get(path)
        assert response.status_code == 404, path
        assert list(response.json()) == ["error"]


def test_account_statuses_paginate_with_link_headers(publisher: Staff, account: Account) -> None:
    posts = [publish_post(publisher, account, Content(f"Message {n}")) for n in range(5)]
    first = Api().get(f"/api/v1/accounts/{account.pk}/statuses", {"limit": "2"})
    assert [s["id"] for s in first.json()] == [str(posts[4].pk), str(posts[3].pk)]
    assert 'rel="next"' in first["Link"] and f"max_id={posts[3].pk}" in first["Link"]
    second = Api().get(
        f"/api/v1/accounts/{account.pk}/statuses", {"limit": "2", "max_id": str(posts[3].pk)}
    )
    assert [s["id"] for s in second.json()] == [str(posts[2].pk), str(posts[1].pk)]
    newer = Api().get(
        f"/api/v1/accounts/{account.pk}/statuses", {"min_id": str(posts[1].pk), "limit": "2"}
    )
    assert [s["id"] for s in newer.json()] == [str(posts[3].pk), str(posts[2].pk)]
    for bad in ({"max_id": "abc"}, {"since_id": "-1"}, {"limit": "lots"}, {"min_id": "1" * 30}):
        response = Api().get(f"/api/v1/accounts/{account.pk}/statuses", bad)
        assert response.status_code == 400, bad
        assert list(response.json()) == ["error"]


def test_home_timeline_shows_followed_accounts(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    followed = publish_post(publisher, function_account, Content("Du maire"))
    assert api.get("/api/v1/timelines/home").json() == []
    record_follow(account, function_account, "", approved=True)
    home = api.get("/api/v1/timelines/home").json()
    assert [s["id"] for s in home] == [str(followed.pk)]
    relation = api.get("/api/v1/accounts/relationships", {"id[]": [str(function_account.pk)]})
    assert relation.json()[0]["following"] is True


def test_public_timeline_is_open_and_filters(publisher: Staff, account: Account) -> None:
    post = publish_post(publisher, account, Content("Bonjour à tous"))
    everything = Api().get("/api/v1/timelines/public").json()
    assert [s["id"] for s in everything] == [str(post.pk)]
    assert Api().get("/api/v1/timelines/public", {"remote": "true"}).json() == []
    assert Api().get("/api/v1/timelines/public", {"local": "true"}).json()[0]["id"] == str(post.pk)


def test_home_needs_a_token_public_rejects_a_bad_one(db) -> None:
    assert Api().get("/api/v1/timelines/home").status_code == 401
    assert Api("forged").get("/api/v1/timelines/public").status_code == 401


def test_a_received_poll_is_read_as_mastodon_shows_it(
    api: Api, publisher: Staff, account: Account
) -> None:
    alice = Account.objects.create(
        handle="alice",
        uri="https://remote.example/users/alice",
        remote_host="remote.example",
        kind=AccountKind.PERSON,
    )

    def received(number: int, poll: ReceivedPoll | None, **extra: object):
        post = record_received_post(
            alice,
            ReceivedContent(
                uri=f"{alice.uri}/statuses/{number}",
                content_html="<p>Quel horaire ?</p>",
                text="Quel horaire ?",
                poll=poll,
                **extra,  # type: ignore[arg-type]
            ),
        )
        assert post is not None
        return post

    ends = datetime(2026, 11, 28, 10, tzinfo=UTC)
    single = received(1, ReceivedPoll(options=(("Le matin", 3), ("Le soir", 1)), expires_at=ends))
    several = received(
        2,
        ReceivedPoll(
            options=(("A", 2), ("B", 2)),
            multiple=True,
            voters_count=3,
            expires_at=datetime.now(UTC) - timedelta(days=1),
        ),
    )
    plain = received(3, None)
    hidden = received(4, ReceivedPoll(options=(("X", 1),)), visibility=Visibility.DIRECT)
    poll = api.get(f"/api/v1/statuses/{single.pk}").json()["poll"]
    assert poll == {
        "id": str(single.pk),
        "expires_at": "2026-11-28T10:00:00.000Z",
        "expired": False,
        "multiple": False,
        "votes_count": 4,
        "voters_count": None,
        "options": [
            {"title": "Le matin", "votes_count": 3},
            {"title": "Le soir", "votes_count": 1},
        ],
        "emojis": [],
        "voted": False,
        "own_votes": [],
    }
    assert api.get(f"/api/v1/polls/{single.pk}").json() == poll
    other = Api().get(f"/api/v1/polls/{several.pk}").json()
    assert other["expired"] is True and other["voters_count"] == 3
    assert other["voted"] is None  # no caller, no vote to tell
    assert api.get(f"/api/v1/statuses/{plain.pk}").json()["poll"] is None
    for missing in (plain.pk, hidden.pk, "nope", 12345):
        assert api.get(f"/api/v1/polls/{missing}").status_code == 404, missing
