"""Lists through the API: Mastodon's shapes, forms as Rails reads them, members, the list
timeline, exclusive lists, another account's lists; roles and scopes of lists, filters and
markers (the routes that change them share one kind of token)."""

from __future__ import annotations

import datetime
import secrets
from typing import Any
from urllib.parse import urlencode

from django.utils import timezone
from oauth2_provider.models import AccessToken

from parvis.api.models import Application, Filter, List, ListMember, TokenAccount
from parvis.identity.models import Account, AccountKind, RoleKind, Staff
from parvis.interactions import services as interactions
from parvis.interactions.models import Follow, Reaction
from parvis.publishing.models import Post, Visibility
from parvis.publishing.received import ReceivedContent, record_received_post
from parvis.publishing.services import Content, publish_post
from tests.api.conftest import Api, authorize

FORM = "application/x-www-form-urlencoded"


def remote_account(name: str) -> Account:
    """An account of another server, as federation records it."""
    return Account.objects.create(
        handle=name,
        uri=f"https://remote.example/users/{name}",
        remote_host="remote.example",
        kind=AccountKind.PERSON,
        display_name=name.title(),
    )


def remote_post(author: Account, text: str, in_reply_to: Post | None = None, **extra: Any) -> Post:
    """A post of another server, stored as the inbox stores it."""
    post = record_received_post(
        author,
        ReceivedContent(
            uri=f"{author.uri}/statuses/{secrets.token_hex(4)}",
            content_html=f"<p>{text}</p>",
            text=text,
            in_reply_to=in_reply_to,
            **extra,
        ),
    )
    assert post is not None
    return post


def follow(follower: Account, *targets: Account) -> None:
    for target in targets:
        interactions.record_follow(follower, target, "", approved=True)


def send(api: Api, method: str, path: str, data: Any = None, *, form: bool = False):
    """A PUT or DELETE (or POST) with a JSON body, or an url-encoded form (pairs)."""
    headers = {"Authorization": f"Bearer {api.token}"}
    call = getattr(api.client, method)
    if form:
        return call(path, urlencode(data or []), content_type=FORM, headers=headers)
    return call(path, data or {}, content_type="application/json", headers=headers)


def direct_token(staff: Staff, account: Account, scope: str = "read write") -> str:
    """A token made without the consent page, which offers no account to a moderator."""
    app = Application.objects.create(
        name="Direct",
        redirect_uris="https://app.example/cb",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        scopes=scope,
    )
    raw = secrets.token_urlsafe(32)
    token = AccessToken(
        user=staff,
        application=app,
        scope=scope,
        expires=timezone.now() + datetime.timedelta(days=1),
    )
    token.token = raw
    token.save()
    TokenAccount.objects.create(token=token, account=account)
    return raw


# --- lists -----------------------------------------------------------------------------


def test_lists_are_created_read_changed_and_deleted(api: Api, account: Account) -> None:
    created = api.post("/api/v1/lists", {"title": "Élus", "replies_policy": "followed"})
    assert created.status_code == 200, created.content
    entity = created.json()
    assert entity == {
        "id": entity["id"],
        "title": "Élus",
        "replies_policy": "followed",
        "exclusive": False,
    }
    # A form, as many apps send it; the policy defaults to "list".
    other = api.post("/api/v1/lists", {"title": " Presse ", "exclusive": "true"}, json=False)
    assert other.status_code == 200, other.content
    assert other.json()["title"] == "Presse" and other.json()["replies_policy"] == "list"
    assert other.json()["exclusive"] is True
    listed = api.get("/api/v1/lists").json()
    assert [row["id"] for row in listed] == [entity["id"], other.json()["id"]]
    assert api.get(f"/api/v1/lists/{entity['id']}").json() == entity
    # PUT as JSON and as a form (Django parses the forms of POST requests only).
    renamed = send(api, "put", f"/api/v1/lists/{entity['id']}", {"title": "Élus du conseil"})
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["title"] == "Élus du conseil"
    assert renamed.json()["replies_policy"] == "followed"
    changed = send(
        api,
        "put",
        f"/api/v1/lists/{entity['id']}",
        [("replies_policy", "none"), ("exclusive", "1")],
        form=True,
    )
    assert changed.status_code == 200, changed.content
    assert changed.json() == {
        "id": entity["id"],
        "title": "Élus du conseil",
        "replies_policy": "none",
        "exclusive": True,
    }
    deleted = api.delete(f"/api/v1/lists/{entity['id']}")
    assert deleted.status_code == 200 and deleted.json() == {}
    assert api.get(f"/api/v1/lists/{entity['id']}").status_code == 404
    assert api.delete(f"/api/v1/lists/{entity['id']}").status_code == 404
    assert List.objects.filter(account=account).count() == 1


def test_invalid_lists_are_refused(api: Api) -> None:
    for body in (
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 257},
        {},
        {"title": "Presse", "replies_policy": "some"},
        {"title": "Presse", "exclusive": "peut-être"},
    ):
        response = api.post("/api/v1/lists", body)
        assert response.status_code == 422, (body, response.content)
        assert list(response.json()) == ["error"]
    assert "titre" in api.post("/api/v1/lists", {"title": " "}).json()["error"]
    assert not List.objects.exists()
    entity = api.post("/api/v1/lists", {"title": "Presse"}).json()
    refused = send(api, "put", f"/api/v1/lists/{entity['id']}", {"title": ""})
    assert refused.status_code == 422
    assert api.get(f"/api/v1/lists/{entity['id']}").json()["title"] == "Presse"
    assert api.get("/api/v1/lists/abc").status_code == 404


def test_an_account_has_at_most_fifty_lists(api: Api, account: Account) -> None:
    List.objects.bulk_create(List(account=account, title=f"Liste {n}") for n in range(50))
    refused = api.post("/api/v1/lists", {"title": "Une de trop"})
    assert refused.status_code == 422 and "50" in refused.json()["error"]


def test_members_must_be_followed_and_are_paginated(
    api: Api, account: Account, function_account: Account
) -> None:
    entity = api.post("/api/v1/lists", {"title": "Élus"}).json()
    path = f"/api/v1/lists/{entity['id']}/accounts"
    alice, bob, carol = (remote_account(name) for name in ("alice", "bob", "carol"))
    # Not followed: 422 (naming the account), and nothing is added.
    refused = api.post(path, {"account_ids": [str(alice.pk)]})
    assert refused.status_code == 422 and "alice@remote.example" in refused.json()["error"]
    # No such account: 404; not an id: 404; nothing at all: 422.
    assert api.post(path, {"account_ids": ["999999"]}).status_code == 404
    assert api.post(path, {"account_ids": ["abc"]}).status_code == 404
    assert api.post(path, {"account_ids": []}).status_code == 422
    follow(account, alice, bob, function_account)
    # A pending request is enough, as on Mastodon (a locked account not answered yet).
    interactions.request_follow(account, carol)
    # All or nothing: one account not followed keeps the others out.
    stranger = remote_account("dave")
    mixed = api.post(path, {"account_ids": [str(alice.pk), str(stranger.pk)]})
    assert mixed.status_code == 422
    assert not ListMember.objects.exists()
    # The form apps send: account_ids[] repeated (multipart here).
    added = api.post(
        path,
        {"account_ids[]": [str(alice.pk), str(bob.pk), str(carol.pk), str(function_account.pk)]},
        json=False,
    )
    assert added.status_code == 200 and added.json() == {}, added.content
    again = api.post(path, {"account_ids": [str(bob.pk)]})
    assert again.status_code == 422
    members = sorted([alice.pk, bob.pk, carol.pk, function_account.pk], reverse=True)
    first = api.get(path, {"limit": "2"})
    assert [a["id"] for a in first.json()] == [str(pk) for pk in members[:2]]
    assert f"max_id={members[1]}" in first["Link"] and f"min_id={members[0]}" in first["Link"]
    rest = api.get(path, {"limit": "2", "max_id": str(members[1])})
    assert [a["id"] for a in rest.json()] == [str(pk) for pk in members[2:]]
    whole = api.get(path, {"limit": "0"})
    assert [a["id"] for a in whole.json()] == [str(pk) for pk in members]
    assert "Link" not in whole
    assert whole.json()[0]["acct"]
    # The lists holding an account.
    held = api.get(f"/api/v1/accounts/{bob.pk}/lists").json()
    assert [row["id"] for row in held] == [entity["id"]]
    assert api.get(f"/api/v1/accounts/{stranger.pk}/lists").json() == []
    assert api.get("/api/v1/accounts/999999/lists").status_code == 404
    # Removed through the query string (as Tusky sends it) or a JSON body.
    removed = send(api, "delete", f"{path}?account_ids[]={bob.pk}")
    assert removed.status_code == 200 and removed.json() == {}, removed.content
    removed = send(api, "delete", path, {"account_ids": [str(carol.pk), str(stranger.pk)]})
    assert removed.status_code == 200
    left = sorted([alice.pk, function_account.pk], reverse=True)
    assert [a["id"] for a in api.get(path).json()] == [str(pk) for pk in left]
    # Unfollowing takes the account out of the follower's lists.
    interactions.unfollow(account, alice)
    assert [a["id"] for a in api.get(path).json()] == [str(function_account.pk)]
    # A block too.
    interactions.record_block(function_account, account)
    assert api.get(path).json() == []


def test_the_list_timeline_follows_its_members_and_replies_policy(
    api: Api, account: Account, function_account: Account, publisher: Staff
) -> None:
    alice, bob, carol = (remote_account(name) for name in ("alice", "bob", "carol"))
    follow(account, alice, bob, function_account)
    entity = api.post("/api/v1/lists", {"title": "Élus"}).json()
    api.post(
        f"/api/v1/lists/{entity['id']}/accounts",
        {"account_ids": [str(alice.pk), str(function_account.pk)]},
    )
    own = publish_post(publisher, account, Content("Annonce de la ville"))
    root = publish_post(publisher, function_account, Content("Conseil municipal"))
    private = publish_post(
        publisher, function_account, Content("Aux abonnés", visibility=Visibility.FOLLOWERS)
    )
    self_reply = publish_post(publisher, function_account, Content("Suite", in_reply_to=root))
    to_owner = remote_post(alice, "Réponse à la ville", in_reply_to=own)
    bob_root = remote_post(bob, "Bob parle")
    carol_root = remote_post(carol, "Carol parle")
    to_member = remote_post(alice, "Réponse au maire", in_reply_to=root)
    to_followed = remote_post(alice, "Réponse à Bob", in_reply_to=bob_root)
    to_stranger = remote_post(alice, "Réponse à Carol", in_reply_to=carol_root)
    boost = interactions.react(alice, carol_root, Reaction.Kind.BOOST)
    interactions.react(bob, root, Reaction.Kind.BOOST)  # bob is not in the list
    assert boost is not None
    path = f"/api/v1/timelines/list/{entity['id']}"

    def ids(policy: str) -> list[str]:
        List.objects.filter(pk=int(entity["id"])).update(replies_policy=policy)
        response = api.get(path)
        assert response.status_code == 200, response.content
        return [s["id"] for s in response.json()]

    always = {str(root.pk), str(private.pk), str(self_reply.pk), str(to_owner.pk)}
    assert set(ids("none")) == always | {str(boost.timeline_id)}
    assert set(ids("list")) == always | {str(boost.timeline_id), str(to_member.pk)}
    followed = ids("followed")
    assert set(followed) == always | {
        str(boost.timeline_id),
        str(to_member.pk),
        str(to_followed.pk),
    }
    assert str(to_stranger.pk) not in followed and str(bob_root.pk) not in followed
    # Newest first, boosts between posts, in pages.
    assert followed == sorted(followed, key=int, reverse=True)
    page = api.get(path, {"limit": "2"})
    assert [s["id"] for s in page.json()] == followed[:2]
    assert f"max_id={followed[1]}" in page["Link"]
    boosted = next(s for s in api.get(path).json() if s["id"] == str(boost.timeline_id))
    assert boosted["reblog"]["id"] == str(carol_root.pk)
    # Followers-only statuses need an accepted follow (a pending one keeps the member in).
    Follow.objects.filter(follower=account, target=function_account).update(
        state=Follow.State.PENDING
    )
    shown = {s["id"] for s in api.get(path).json()}
    assert str(root.pk) in shown and str(private.pk) not in shown


def test_an_account_may_put_itself_in_its_lists(
    api: Api, account: Account, publisher: Staff
) -> None:
    entity = api.post("/api/v1/lists", {"title": "Nous"}).json()
    added = api.post(f"/api/v1/lists/{entity['id']}/accounts", {"account_ids": [account.pk]})
    assert added.status_code == 200, added.content
    private = publish_post(publisher, account, Content("Aux abonnés", visibility="followers"))
    public = publish_post(publisher, account, Content("À tous"))
    boost = api.post(f"/api/v1/statuses/{public.pk}/reblog").json()
    timeline = api.get(f"/api/v1/timelines/list/{entity['id']}").json()
    assert [s["id"] for s in timeline] == [boost["id"], str(public.pk), str(private.pk)]
    assert ListMember.objects.get().follow is None


def test_another_accounts_lists_are_not_found(
    api: Api, token_for, publisher: Staff, account: Account, function_account: Account
) -> None:
    entity = api.post("/api/v1/lists", {"title": "Élus"}).json()
    other = Api(token_for(publisher, function_account))
    for path in (
        f"/api/v1/lists/{entity['id']}",
        f"/api/v1/lists/{entity['id']}/accounts",
        f"/api/v1/timelines/list/{entity['id']}",
    ):
        assert other.get(path).status_code == 404, path
    assert send(other, "put", f"/api/v1/lists/{entity['id']}", {"title": "À moi"}).status_code == (
        404
    )
    assert other.delete(f"/api/v1/lists/{entity['id']}").status_code == 404
    follow(function_account, account)
    added = other.post(f"/api/v1/lists/{entity['id']}/accounts", {"account_ids": [account.pk]})
    assert added.status_code == 404
    assert other.get("/api/v1/lists").json() == []
    assert List.objects.get().title == "Élus"


def test_members_of_exclusive_lists_are_left_out_of_home(
    api: Api, account: Account, function_account: Account, publisher: Staff
) -> None:
    alice = remote_account("alice")
    follow(account, alice, function_account)
    entity = api.post("/api/v1/lists", {"title": "Élus", "exclusive": True}).json()
    path = f"/api/v1/lists/{entity['id']}/accounts"
    # The account itself in its exclusive list: its own statuses stay in home.
    api.post(path, {"account_ids": [function_account.pk, account.pk]})
    mayor = publish_post(publisher, function_account, Content("Conseil municipal"))
    own = publish_post(publisher, account, Content("Annonce de la ville"))
    said = remote_post(alice, "Alice parle")
    boost = interactions.react(function_account, said, Reaction.Kind.BOOST)
    assert boost is not None
    home = [s["id"] for s in api.get("/api/v1/timelines/home").json()]
    assert home == [str(said.pk), str(own.pk)]
    # In the list they are.
    listed = {s["id"] for s in api.get(f"/api/v1/timelines/list/{entity['id']}").json()}
    assert {str(mayor.pk), str(boost.timeline_id), str(own.pk)} <= listed
    # Not exclusive any more: back in home, boost included.
    send(api, "put", f"/api/v1/lists/{entity['id']}", {"exclusive": False})
    home = {s["id"] for s in api.get("/api/v1/timelines/home").json()}
    assert home == {str(own.pk), str(said.pk), str(mayor.pk), str(boost.timeline_id)}


# --- roles and scopes ------------------------------------------------------------------


def test_a_read_only_token_reads_and_may_not_write(app, publisher: Staff, account: Account) -> None:
    reader = Api(authorize(publisher, app, account, scope="read"))
    for path, body in (
        ("/api/v1/lists", {"title": "Presse"}),
        ("/api/v2/filters", {"title": "Bruit", "context": ["home"]}),
        ("/api/v1/markers", {"home": {"last_read_id": "1"}}),
    ):
        refused = reader.post(path, body)
        assert refused.status_code == 403, (path, refused.content)
    assert reader.get("/api/v1/lists").status_code == 200
    assert reader.get("/api/v2/filters").status_code == 200
    assert reader.get("/api/v1/markers").status_code == 200
    assert reader.get("/api/v1/preferences").status_code == 200
    # Granular scopes: read:lists reads lists and nothing else.
    lists_only = Api(direct_token(publisher, account, "read:lists"))
    assert lists_only.get("/api/v1/lists").status_code == 200
    assert lists_only.get("/api/v2/filters").status_code == 403
    assert lists_only.get("/api/v1/preferences").status_code == 403
    assert lists_only.get("/api/v1/markers").status_code == 403
    assert Api().get("/api/v1/lists").status_code == 401
    assert not List.objects.exists() and not Filter.objects.exists()


def test_editors_write_and_moderators_only_read(
    token_for, editor: Staff, make_staff, account: Account
) -> None:
    as_editor = Api(token_for(editor, account))
    assert as_editor.post("/api/v1/lists", {"title": "Presse"}).status_code == 200
    moderator = make_staff("modo", (account, RoleKind.MODERATOR))
    as_moderator = Api(direct_token(moderator, account))
    refused = as_moderator.post("/api/v1/lists", {"title": "Presse"})
    assert refused.status_code == 403 and list(refused.json()) == ["error"]
    assert as_moderator.post("/api/v1/markers", {"home": {"last_read_id": "1"}}).status_code == 403
    assert len(as_moderator.get("/api/v1/lists").json()) == 1
