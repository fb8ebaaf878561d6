"""Bookmarks, mutes, domain blocks and conversations through the API: what each account
keeps to itself, its pages, the roles and scopes that may change it, and bad requests
that change nothing."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from parvis.core.ids import time_id
from parvis.identity.models import Account, AccountKind, Staff
from parvis.interactions import services as interactions
from parvis.interactions.models import (
    AccountDomainBlock,
    Bookmark,
    ConversationState,
    Mute,
    Notification,
)
from parvis.interactions.threads import thread_roots
from parvis.publishing.models import Post, Visibility
from parvis.publishing.services import Content, publish_post
from tests.api.conftest import Api

_LATER = itertools.count(1)


def remote_account(name: str, host: str = "remote.example") -> Account:
    """An account of another server, as federation records it."""
    return Account.objects.create(
        handle=name,
        uri=f"https://{host}/users/{name}",
        remote_host=host,
        kind=AccountKind.PERSON,
        display_name=name.title(),
    )


def direct_message(
    author: Account, to: list[Account], text: str, reply_to: Post | None = None
) -> Post:
    """A private message received from another server, addressed to ``to``.

    Its id is a millisecond later than the one before: ids made in the same millisecond
    are in random order, and these tests read the order of conversations.
    """
    post = Post.objects.create(
        id=time_id(timezone.now() + timedelta(milliseconds=next(_LATER))),
        account=author,
        text=text,
        content_html=f"<p>{text}</p>",
        visibility=Visibility.DIRECT,
        in_reply_to=reply_to,
        uri=f"https://{author.remote_host}/users/{author.handle}/statuses/{text.replace(' ', '-')}",
    )
    post.mentions.add(*to)
    return post


def delete(api: Api, path: str, body: Any = None, *, json: bool = True):
    """DELETE with a body, as Mastodon apps send ``DELETE /domain_blocks``."""
    if body is None:
        return api.delete(path)
    if json:
        import json as json_module

        data, kind = json_module.dumps(body), "application/json"
    else:
        data, kind = urlencode(body), "application/x-www-form-urlencoded"
    return api.client.delete(path, data, content_type=kind, headers=api._headers(None))


# --- bookmarks -------------------------------------------------------------------------


def test_bookmark_is_idempotent_and_unbookmark_too(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    post = publish_post(publisher, function_account, Content("Conseil municipal ce soir"))
    first = api.post(f"/api/v1/statuses/{post.pk}/bookmark")
    assert first.status_code == 200, first.content
    assert first.json()["id"] == str(post.pk) and first.json()["bookmarked"] is True
    again = api.post(f"/api/v1/statuses/{post.pk}/bookmark")
    assert again.status_code == 200 and again.json()["bookmarked"] is True
    assert list(Bookmark.objects.values_list("account", "post")) == [(account.pk, post.pk)]
    # Private: the author's team hears nothing of it.
    assert not Notification.objects.exists()
    listed = api.get("/api/v1/bookmarks")
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()] == [str(post.pk)]
    assert listed.json()[0]["bookmarked"] is True
    # Wherever the status shows up for the account: its own page, a timeline.
    assert api.get(f"/api/v1/statuses/{post.pk}").json()["bookmarked"] is True
    shown = api.get("/api/v1/timelines/public").json()
    assert [s["bookmarked"] for s in shown if s["id"] == str(post.pk)] == [True]
    undone = api.post(f"/api/v1/statuses/{post.pk}/unbookmark")
    assert undone.status_code == 200 and undone.json()["bookmarked"] is False
    noop = api.post(f"/api/v1/statuses/{post.pk}/unbookmark")
    assert noop.status_code == 200 and noop.json()["bookmarked"] is False
    assert not Bookmark.objects.exists()
    assert api.get("/api/v1/bookmarks").json() == []


def test_bookmarks_paginate_by_the_bookmark(
    api: Api, publisher: Staff, function_account: Account
) -> None:
    posts = [publish_post(publisher, function_account, Content(f"Avis {n}")) for n in range(3)]
    # Bookmarked in another order than published: the list follows the bookmarks.
    for post in (posts[1], posts[0], posts[2]):
        assert api.post(f"/api/v1/statuses/{post.pk}/bookmark").status_code == 200
    rows = {row.post_id: row.pk for row in Bookmark.objects.all()}
    first = api.get("/api/v1/bookmarks", {"limit": "2"})
    assert [s["id"] for s in first.json()] == [str(posts[2].pk), str(posts[0].pk)]
    assert f"max_id={rows[posts[0].pk]}" in first["Link"] and 'rel="next"' in first["Link"]
    assert f"min_id={rows[posts[2].pk]}" in first["Link"]
    rest = api.get("/api/v1/bookmarks", {"max_id": str(rows[posts[0].pk])})
    assert [s["id"] for s in rest.json()] == [str(posts[1].pk)]
    newer = api.get("/api/v1/bookmarks", {"min_id": str(rows[posts[1].pk]), "limit": "1"})
    assert [s["id"] for s in newer.json()] == [str(posts[0].pk)]
    assert api.get("/api/v1/bookmarks", {"max_id": "abc"}).status_code == 400


def test_bookmarks_of_another_account_are_never_shown(
    api: Api, token_for, publisher: Staff, account: Account, function_account: Account
) -> None:
    post = publish_post(publisher, account, Content("Travaux rue du Commerce"))
    maire = Api(token_for(publisher, function_account))
    assert maire.post(f"/api/v1/statuses/{post.pk}/bookmark").json()["bookmarked"] is True
    assert api.get("/api/v1/bookmarks").json() == []
    # Nor does the status say it is bookmarked to anyone else.
    assert api.post(f"/api/v1/statuses/{post.pk}/unbookmark").json()["bookmarked"] is False
    assert Bookmark.objects.filter(account=function_account).count() == 1


def test_a_bookmark_out_of_sight_leaves_the_list_but_can_be_dropped(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    private = publish_post(
        publisher, function_account, Content("Aux abonnés", visibility=Visibility.FOLLOWERS)
    )
    assert api.post(f"/api/v1/statuses/{private.pk}/bookmark").status_code == 404
    assert not Bookmark.objects.exists()
    interactions.record_follow(account, function_account, "", approved=True)
    assert api.post(f"/api/v1/statuses/{private.pk}/bookmark").json()["bookmarked"] is True
    interactions.unfollow(account, function_account)
    assert api.get("/api/v1/bookmarks").json() == []
    undone = api.post(f"/api/v1/statuses/{private.pk}/unbookmark")
    assert undone.status_code == 200 and undone.json()["bookmarked"] is False
    assert not Bookmark.objects.exists()
    assert api.post(f"/api/v1/statuses/{private.pk}/unbookmark").status_code == 404


# --- mutes -----------------------------------------------------------------------------


def test_mute_answers_the_relationship_and_can_be_changed_and_lifted(
    api: Api, account: Account
) -> None:
    alice = remote_account("alice")
    muted = api.post(f"/api/v1/accounts/{alice.pk}/mute")
    assert muted.status_code == 200, muted.content
    relation = muted.json()
    assert relation["id"] == str(alice.pk)
    assert relation["muting"] is True and relation["muting_notifications"] is True
    assert relation["blocking"] is False and relation["following"] is False
    mute = Mute.objects.get()
    assert (mute.account, mute.target, mute.notifications, mute.expires_at) == (
        account,
        alice,
        True,
        None,
    )
    # Muting again replaces the options, in the same row; a form body is read too.
    changed = api.post(
        f"/api/v1/accounts/{alice.pk}/mute",
        {"notifications": "false", "duration": "3600"},
        json=False,
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["muting"] is True and changed.json()["muting_notifications"] is False
    again = Mute.objects.get()
    assert again.pk == mute.pk and again.notifications is False
    assert again.expires_at is not None
    assert timedelta(minutes=59) < again.expires_at - timezone.now() <= timedelta(hours=1)
    forever = api.post(f"/api/v1/accounts/{alice.pk}/mute", {"duration": 0})
    assert forever.json()["muting_notifications"] is True
    assert Mute.objects.get().expires_at is None
    lifted = api.post(f"/api/v1/accounts/{alice.pk}/unmute")
    assert lifted.status_code == 200
    assert lifted.json()["muting"] is False and lifted.json()["muting_notifications"] is False
    assert not Mute.objects.exists()
    assert api.post(f"/api/v1/accounts/{alice.pk}/unmute").status_code == 200


def test_muting_yourself_is_ignored(api: Api, account: Account) -> None:
    response = api.post(f"/api/v1/accounts/{account.pk}/mute")
    assert response.status_code == 200 and response.json()["muting"] is False
    assert not Mute.objects.exists()


def test_bad_mute_requests_change_nothing(api: Api, account: Account) -> None:
    alice = remote_account("alice")
    for body in ({"duration": -1}, {"duration": 2**31}, {"duration": "demain"}):
        response = api.post(f"/api/v1/accounts/{alice.pk}/mute", body)
        assert response.status_code == 422, body
        assert list(response.json()) == ["error"], body
    assert not Mute.objects.exists()


def test_mutes_list_paginates_and_shows_when_they_end(
    api: Api, token_for, publisher: Staff, account: Account, function_account: Account
) -> None:
    people = [remote_account(f"citoyen{n}") for n in range(3)]
    api.post(f"/api/v1/accounts/{people[0].pk}/mute")
    api.post(f"/api/v1/accounts/{people[1].pk}/mute", {"duration": 86400})
    api.post(f"/api/v1/accounts/{people[2].pk}/mute")
    rows = {row.target_id: row for row in Mute.objects.all()}
    first = api.get("/api/v1/mutes", {"limit": "2"})
    assert first.status_code == 200, first.content
    assert [a["id"] for a in first.json()] == [str(people[2].pk), str(people[1].pk)]
    assert first.json()[0]["mute_expires_at"] is None
    assert first.json()[1]["mute_expires_at"].endswith("Z")
    assert first.json()[1]["acct"] == "citoyen1@remote.example"
    assert f"max_id={rows[people[1].pk].pk}" in first["Link"]
    rest = api.get("/api/v1/mutes", {"max_id": str(rows[people[1].pk].pk)})
    assert [a["id"] for a in rest.json()] == [str(people[0].pk)]
    # An expired mute mutes nothing any more and leaves the list.
    Mute.objects.filter(target=people[2]).update(expires_at=timezone.now() - timedelta(1))
    assert [a["id"] for a in api.get("/api/v1/mutes").json()] == [
        str(people[1].pk),
        str(people[0].pk),
    ]
    assert not Mute.objects.active().filter(target=people[2]).exists()
    # Another account's mutes are its own.
    maire = Api(token_for(publisher, function_account))
    assert maire.get("/api/v1/mutes").json() == []


def test_mute_services(account: Account, function_account: Account) -> None:
    alice = remote_account("alice")
    assert interactions.mute(account, account) is None
    first = interactions.mute(account, alice, duration=timedelta(seconds=-1))
    assert first is not None and not Mute.objects.active().exists()
    # Muting again revives an expired mute, in place.
    again = interactions.mute(account, alice, notifications=False)
    assert again is not None and again.pk == first.pk
    assert list(interactions.muted_accounts(account).values_list("target", flat=True)) == [alice.pk]
    assert not interactions.muted_accounts(account, notifications=True).exists()
    assert not interactions.muted_accounts(function_account).exists()
    assert interactions.unmute(account, alice) is True
    assert interactions.unmute(account, alice) is False


# --- domain blocks ---------------------------------------------------------------------


def test_domain_blocks_are_listed_lower_case_and_lifted(api: Api, account: Account) -> None:
    alice = remote_account("alice", "spam.example")
    blocked = api.post("/api/v1/domain_blocks", {"domain": "Spam.EXAMPLE."})
    assert blocked.status_code == 200, blocked.content
    assert blocked.json() == {}
    assert api.post("/api/v1/domain_blocks", {"domain": "spam.example"}, json=False).json() == {}
    assert list(AccountDomainBlock.objects.values_list("account", "domain")) == [
        (account.pk, "spam.example")
    ]
    assert api.get("/api/v1/domain_blocks").json() == ["spam.example"]
    # The relationship with an account of that server says so.
    relation = api.post(f"/api/v1/accounts/{alice.pk}/unmute").json()
    assert relation["domain_blocking"] is True
    api.post("/api/v1/domain_blocks", {"domain": "bücher.example"})
    assert api.get("/api/v1/domain_blocks").json() == ["xn--bcher-kva.example", "spam.example"]
    # Unblocking reads the domain from a JSON body, a form body or the query string.
    assert delete(api, "/api/v1/domain_blocks", {"domain": "SPAM.example"}).status_code == 200
    assert api.get("/api/v1/domain_blocks").json() == ["xn--bcher-kva.example"]
    gone = delete(api, "/api/v1/domain_blocks", {"domain": "bücher.example"}, json=False)
    assert gone.status_code == 200 and gone.json() == {}
    assert not AccountDomainBlock.objects.exists()
    noop = api.delete("/api/v1/domain_blocks?domain=spam.example")
    assert noop.status_code == 200 and noop.json() == {}
    assert api.post(f"/api/v1/accounts/{alice.pk}/unmute").json()["domain_blocking"] is False


def test_domain_blocks_paginate_by_the_block(api: Api) -> None:
    for n in range(3):
        api.post("/api/v1/domain_blocks", {"domain": f"serveur{n}.example"})
    rows = {row.domain: row.pk for row in AccountDomainBlock.objects.all()}
    first = api.get("/api/v1/domain_blocks", {"limit": "2"})
    assert first.json() == ["serveur2.example", "serveur1.example"]
    assert f"max_id={rows['serveur1.example']}" in first["Link"]
    rest = api.get("/api/v1/domain_blocks", {"max_id": str(rows["serveur1.example"])})
    assert rest.json() == ["serveur0.example"]


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "pas un domaine",
        "https://spam.example/",
        "spam.example:443",
        "user@spam.example",
        "*.spam.example",
        "1.2.3.4",
        "a" * 64 + ".example",
        "social.blois.fr",  # hosted here
        "SOCIAL.blois.fr",
    ],
)
def test_bad_or_hosted_domains_are_refused(api: Api, name: str) -> None:
    response = api.post("/api/v1/domain_blocks", {"domain": name})
    assert response.status_code == 422, response.content
    assert list(response.json()) == ["error"]
    assert not AccountDomainBlock.objects.exists()


def test_a_missing_domain_is_refused(api: Api) -> None:
    for response in (
        api.post("/api/v1/domain_blocks"),
        api.post("/api/v1/domain_blocks", {"domain": 12}),
        api.delete("/api/v1/domain_blocks"),
        delete(api, "/api/v1/domain_blocks", {"domain": "pas un domaine"}),
    ):
        assert response.status_code == 422, response.content
    assert api.post("/api/v1/domain_blocks", "[", json=True).status_code in (400, 422)
    assert not AccountDomainBlock.objects.exists()


def test_domain_blocks_of_another_account_are_never_shown(
    api: Api, token_for, publisher: Staff, function_account: Account
) -> None:
    maire = Api(token_for(publisher, function_account))
    maire.post("/api/v1/domain_blocks", {"domain": "spam.example"})
    assert api.get("/api/v1/domain_blocks").json() == []
    # Lifting it through another account's token changes nothing of the first one's.
    assert delete(api, "/api/v1/domain_blocks", {"domain": "spam.example"}).status_code == 200
    assert AccountDomainBlock.objects.filter(account=function_account).count() == 1


def test_block_domain_services(account: Account) -> None:
    assert interactions.domain_to_block(" Exemple.FR. ") == "exemple.fr"
    with pytest.raises(ValidationError):
        interactions.block_domain(account, "::1")
    with pytest.raises(ValidationError):
        interactions.block_domain(account, "social.blois.fr")
    first = interactions.block_domain(account, "exemple.fr")
    assert interactions.block_domain(account, "EXEMPLE.fr").pk == first.pk
    assert interactions.unblock_domain(account, "exemple.fr") is True
    assert interactions.unblock_domain(account, "exemple.fr") is False


# --- conversations ---------------------------------------------------------------------


@pytest.fixture
def threads(account: Account, function_account: Account) -> dict[str, Post]:
    """Two private threads to @ville, one to @maire, and a public mention of @ville."""
    alice, bob, carol = (remote_account(n) for n in ("alice", "bob", "carol"))
    first = direct_message(alice, [account], "Bonjour la mairie")
    answer = direct_message(bob, [account, alice], "Je confirme", reply_to=first)
    other = direct_message(carol, [account], "Question sur la cantine")
    direct_message(alice, [function_account], "Pour le maire seulement")
    public = Post.objects.create(
        account=alice,
        text="Public",
        content_html="<p>Public</p>",
        uri="https://remote.example/users/alice/statuses/public",
    )
    public.mentions.add(account)
    return {"first": first, "answer": answer, "other": other}


def test_conversations_group_private_messages_by_thread(
    api: Api, account: Account, threads: dict[str, Post]
) -> None:
    response = api.get("/api/v1/conversations")
    assert response.status_code == 200, response.content
    found = response.json()
    assert [c["id"] for c in found] == [str(threads["other"].pk), str(threads["first"].pk)]
    assert [c["last_status"]["id"] for c in found] == [
        str(threads["other"].pk),
        str(threads["answer"].pk),
    ]
    assert all(c["unread"] for c in found)
    assert found[1]["last_status"]["visibility"] == "direct"
    assert found[1]["last_status"]["bookmarked"] is False
    assert sorted(a["acct"] for a in found[1]["accounts"]) == [
        "alice@remote.example",
        "bob@remote.example",
    ]
    assert [a["acct"] for a in found[0]["accounts"]] == ["carol@remote.example"]
    # Pages go by the last status, as Mastodon's.
    page = api.get("/api/v1/conversations", {"limit": "1"})
    assert [c["id"] for c in page.json()] == [str(threads["other"].pk)]
    assert f"max_id={threads['other'].pk}" in page["Link"]
    rest = api.get("/api/v1/conversations", {"max_id": str(threads["other"].pk)})
    assert [c["id"] for c in rest.json()] == [str(threads["first"].pk)]
    newer = api.get("/api/v1/conversations", {"min_id": str(threads["answer"].pk)})
    assert [c["id"] for c in newer.json()] == [str(threads["other"].pk)]


def test_conversations_are_read_until_a_new_message(
    api: Api, account: Account, threads: dict[str, Post]
) -> None:
    root = threads["first"].pk
    read = api.post(f"/api/v1/conversations/{root}/read")
    assert read.status_code == 200, read.content
    assert read.json()["id"] == str(root) and read.json()["unread"] is False
    assert read.json()["last_status"]["id"] == str(threads["answer"].pk)
    listed = {c["id"]: c["unread"] for c in api.get("/api/v1/conversations").json()}
    assert listed == {str(root): False, str(threads["other"].pk): True}
    assert api.post(f"/api/v1/conversations/{root}/read").json()["unread"] is False
    assert ConversationState.objects.count() == 1
    # A new message in the thread makes it unread again.
    later = direct_message(
        threads["answer"].account, [account], "Autre chose", reply_to=threads["answer"]
    )
    newest = api.get("/api/v1/conversations").json()[0]
    assert newest["id"] == str(root) and newest["unread"] is True
    assert newest["last_status"]["id"] == str(later.pk)


def test_removed_conversations_come_back_with_a_new_message(
    api: Api, account: Account, threads: dict[str, Post]
) -> None:
    root = threads["other"].pk
    removed = api.delete(f"/api/v1/conversations/{root}")
    assert removed.status_code == 200 and removed.json() == {}
    assert [c["id"] for c in api.get("/api/v1/conversations").json()] == [str(threads["first"].pk)]
    # The statuses stay; the conversation is gone for these routes.
    assert Post.objects.filter(pk=root).exists()
    assert api.post(f"/api/v1/conversations/{root}/read").status_code == 404
    assert api.delete(f"/api/v1/conversations/{root}").status_code == 404
    direct_message(threads["other"].account, [account], "Relance", reply_to=threads["other"])
    back = api.get("/api/v1/conversations").json()[0]
    assert back["id"] == str(root) and back["unread"] is True


def test_conversations_leave_out_blocked_authors_and_servers(
    api: Api, account: Account, threads: dict[str, Post]
) -> None:
    interactions.record_block(account, threads["other"].account)
    assert [c["id"] for c in api.get("/api/v1/conversations").json()] == [str(threads["first"].pk)]
    api.post("/api/v1/domain_blocks", {"domain": "remote.example"})
    assert api.get("/api/v1/conversations").json() == []


def test_conversations_of_another_account_are_never_shown(
    token_for, publisher: Staff, function_account: Account, threads: dict[str, Post]
) -> None:
    maire = Api(token_for(publisher, function_account))
    found = maire.get("/api/v1/conversations").json()
    assert len(found) == 1 and found[0]["last_status"]["content"] == (
        "<p>Pour le maire seulement</p>"
    )
    for root in (threads["first"].pk, threads["other"].pk):
        assert maire.post(f"/api/v1/conversations/{root}/read").status_code == 404
        assert maire.delete(f"/api/v1/conversations/{root}").status_code == 404
    assert not ConversationState.objects.exists()


def test_thread_roots_survive_loops_and_unknown_parents(db) -> None:
    # A loop of replies (a bad server's) ends the climb instead of spinning.
    loop = thread_roots({1: 2, 2: 1, 3: 2})
    assert loop[1] in (1, 2) and loop[3] == loop[2] == loop[1]
    # A parent not found here (deleted meanwhile) leaves its reply the first status.
    assert thread_roots({5: 999_999_999, 6: 5}) == {5: 5, 6: 5}


# --- roles, scopes, bad ids ------------------------------------------------------------


def test_an_editors_token_may_keep_things_to_itself(
    token_for, editor: Staff, publisher: Staff, account: Account, function_account: Account
) -> None:
    """Nothing here is public: writing drafts is enough (a publisher is not needed)."""
    post = publish_post(publisher, function_account, Content("Ordre du jour"))
    alice = remote_account("alice")
    api = Api(token_for(editor, account))
    assert api.post(f"/api/v1/statuses/{post.pk}/bookmark").json()["bookmarked"] is True
    assert api.post(f"/api/v1/accounts/{alice.pk}/mute").json()["muting"] is True
    assert api.post("/api/v1/domain_blocks", {"domain": "spam.example"}).status_code == 200
    assert Bookmark.objects.count() == Mute.objects.count() == 1
    assert AccountDomainBlock.objects.count() == 1


def test_a_token_without_its_role_may_not_write(
    token_for, make_staff, publisher: Staff, account: Account, function_account: Account
) -> None:
    from parvis.identity.models import Role

    post = publish_post(publisher, function_account, Content("Ordre du jour"))
    api = Api(token_for(publisher, account))
    Role.objects.filter(staff=publisher, account=account).delete()
    response = api.post(f"/api/v1/statuses/{post.pk}/bookmark")
    assert response.status_code == 403 and list(response.json()) == ["error"]
    assert api.post("/api/v1/domain_blocks", {"domain": "spam.example"}).status_code == 403
    assert not Bookmark.objects.exists() and not AccountDomainBlock.objects.exists()


def test_scopes_are_checked(
    token_for, publisher: Staff, account: Account, threads: dict[str, Post]
) -> None:
    post = publish_post(publisher, account, Content("Portées"))
    alice = threads["first"].account
    root = threads["first"].pk
    reader = Api(token_for(publisher, account, scope="read"))
    for method, path, body in (
        ("post", f"/api/v1/statuses/{post.pk}/bookmark", None),
        ("post", f"/api/v1/statuses/{post.pk}/unbookmark", None),
        ("post", f"/api/v1/accounts/{alice.pk}/mute", None),
        ("post", f"/api/v1/accounts/{alice.pk}/unmute", None),
        ("post", "/api/v1/domain_blocks", {"domain": "spam.example"}),
        ("delete", "/api/v1/domain_blocks?domain=spam.example", None),
        ("post", f"/api/v1/conversations/{root}/read", None),
        ("delete", f"/api/v1/conversations/{root}", None),
    ):
        response = getattr(reader, method)(path, body) if body else getattr(reader, method)(path)
        assert response.status_code == 403, path
        assert list(response.json()) == ["error"], path
    assert not Bookmark.objects.exists() and not Mute.objects.exists()
    assert not AccountDomainBlock.objects.exists() and not ConversationState.objects.exists()
    for path in ("/api/v1/bookmarks", "/api/v1/mutes", "/api/v1/domain_blocks"):
        assert reader.get(path).status_code == 200, path
    assert reader.get("/api/v1/conversations").status_code == 200
    # Granular scopes: each covers its own routes only; "follow" covers mutes and blocks.
    keeper = Api(token_for(publisher, account, scope="write:bookmarks"))
    assert keeper.post(f"/api/v1/statuses/{post.pk}/bookmark").status_code == 200
    assert keeper.post(f"/api/v1/accounts/{alice.pk}/mute").status_code == 403
    assert keeper.get("/api/v1/bookmarks").status_code == 403
    follow = Api(token_for(publisher, account, scope="follow"))
    assert follow.post(f"/api/v1/accounts/{alice.pk}/mute").status_code == 200
    assert follow.post("/api/v1/domain_blocks", {"domain": "spam.example"}).status_code == 200
    assert follow.get("/api/v1/mutes").status_code == 200
    for path in (
        "/api/v1/bookmarks",
        "/api/v1/mutes",
        "/api/v1/domain_blocks",
        "/api/v1/conversations",
    ):
        assert Api().get(path).status_code == 401, path
    assert Api().post(f"/api/v1/statuses/{post.pk}/bookmark").status_code == 401


def test_unknown_and_malformed_ids_are_404(api: Api, threads: dict[str, Post]) -> None:
    for path in (
        "/api/v1/statuses/999999/bookmark",
        "/api/v1/statuses/abc/unbookmark",
        "/api/v1/statuses/99999999999999999999999/bookmark",
        "/api/v1/accounts/999999/mute",
        "/api/v1/accounts/abc/unmute",
        "/api/v1/accounts/-1/mute",
        "/api/v1/conversations/999999/read",
        "/api/v1/conversations/1e5/read",
        # A message that is not the first of its thread names no conversation.
        f"/api/v1/conversations/{threads['answer'].pk}/read",
    ):
        response = api.post(path)
        assert response.status_code == 404, path
        assert list(response.json()) == ["error"], path
    for path in ("/api/v1/conversations/999999", "/api/v1/conversations/abc"):
        assert api.delete(path).status_code == 404, path
    assert not Bookmark.objects.exists() and not Mute.objects.exists()
    assert not ConversationState.objects.exists()


def test_the_openapi_document_describes_the_routes(db) -> None:
    document = Api().get("/api/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/v1/bookmarks",
        "/api/v1/statuses/{status_id}/bookmark",
        "/api/v1/mutes",
        "/api/v1/accounts/{account_id}/mute",
        "/api/v1/domain_blocks",
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}/read",
    ):
        assert path in paths, path
    assert set(paths["/api/v1/domain_blocks"]) == {"get", "post", "delete"}
    assert "requestBody" in paths["/api/v1/domain_blocks"]["delete"]


def test_a_private_answer_to_a_public_status_starts_at_that_status(
    api: Api, publisher: Staff, account: Account
) -> None:
    """The thread climbs through statuses that are not private messages (a public one of
    the account, an unlisted one of another server), a level at a time."""
    announcement = publish_post(publisher, account, Content("Enquête publique"))
    alice, bob = remote_account("alice"), remote_account("bob")
    comment = Post.objects.create(
        account=bob,
        text="Commentaire",
        content_html="<p>Commentaire</p>",
        visibility=Visibility.UNLISTED,
        in_reply_to=announcement,
        uri="https://remote.example/users/bob/statuses/comment",
    )
    question = direct_message(alice, [account], "Une question", reply_to=comment)
    follow_up = direct_message(alice, [account, bob], "Merci", reply_to=question)
    found = api.get("/api/v1/conversations").json()
    assert [c["id"] for c in found] == [str(announcement.pk)]
    assert found[0]["last_status"]["id"] == str(follow_up.pk)
    assert [a["acct"] for a in found[0]["accounts"]] == [
        "alice@remote.example",
        "bob@remote.example",
    ]


def test_muted_accounts_leave_home_public_and_notifications(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    interactions.record_follow(account, function_account, "", approved=True)
    post = publish_post(publisher, function_account, Content("Du maire"))
    interactions.record_follow(
        function_account, account, "", approved=True
    )  # a follow notification
    assert [s["id"] for s in api.get("/api/v1/timelines/home").json()] == [str(post.pk)]
    assert api.get("/api/v1/notifications").json()
    muted = api.post(f"/api/v1/accounts/{function_account.pk}/mute")
    assert muted.json()["muting"] is True and muted.json()["muting_notifications"] is True
    assert api.get("/api/v1/timelines/home").json() == []
    assert api.get("/api/v1/timelines/public").json() == []
    assert api.get("/api/v1/notifications").json() == []
    relation = api.get("/api/v1/accounts/relationships", {"id[]": [str(function_account.pk)]})
    assert relation.json()[0]["muting"] is True and relation.json()[0]["following"] is True
    api.post(f"/api/v1/accounts/{function_account.pk}/unmute")
    assert [s["id"] for s in api.get("/api/v1/timelines/home").json()] == [str(post.pk)]


def test_a_muted_thread_brings_no_notifications(
    api: Api, publisher: Staff, account: Account
) -> None:
    alice, bob = remote_account("alice"), remote_account("bob")
    root = publish_post(publisher, account, Content("Réunion publique"))
    first = direct_message(alice, [account], "Question", reply_to=root)
    first.visibility = Visibility.PUBLIC
    first.save()
    answered = api.post(f"/api/v1/statuses/{first.pk}/mute")
    assert answered.status_code == 200, answered.content
    assert answered.json()["muted"] is True
    assert api.post(f"/api/v1/statuses/{first.pk}/mute").status_code == 200
    # The whole thread is muted, whichever of its statuses was named.
    assert ConversationState.objects.get(account=account).root_post_id == root.pk
    assert api.get(f"/api/v1/statuses/{root.pk}").json()["muted"] is True
    before = Notification.objects.filter(recipient=account).count()
    deeper = direct_message(bob, [account], "Précision", reply_to=first)
    interactions.notify_post(deeper)
    interactions.react(bob, root, "favourite")
    assert Notification.objects.filter(recipient=account).count() == before
    # Another thread still notifies.
    other = publish_post(publisher, account, Content("Autre sujet"))
    interactions.react(bob, other, "favourite")
    assert Notification.objects.filter(recipient=account).count() == before + 1
    assert api.post(f"/api/v1/statuses/{root.pk}/unmute").json()["muted"] is False
    interactions.react(alice, root, "favourite")
    assert Notification.objects.filter(recipient=account).count() == before + 2


def test_muting_a_thread_needs_a_visible_status_and_the_scope(
    api: Api, token_for, publisher: Staff, account: Account
) -> None:
    alice = remote_account("alice")
    hidden = direct_message(alice, [], "Pas pour vous")
    assert api.post(f"/api/v1/statuses/{hidden.pk}/mute").status_code == 404
    assert api.post("/api/v1/statuses/nope/mute").status_code == 404
    post = publish_post(publisher, account, Content("Annonce"))
    reader = Api(token_for(publisher, account, scope="read"))
    assert reader.post(f"/api/v1/statuses/{post.pk}/mute").status_code == 403
    assert not ConversationState.objects.exists()
