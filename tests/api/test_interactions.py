"""Favourites, reblogs, follows, blocks and follow requests through the API: the entities
clients expect, the role that may act, pagination, and the errors of bad requests."""

from __future__ import annotations

from django_tasks_db.models import DBTaskResult

from parvis.identity.models import Account, AccountKind, Staff
from parvis.interactions import services as interactions
from parvis.interactions.models import Block, Follow, Notification, Reaction
from parvis.interactions.services import record_follow
from parvis.publishing.models import Post, Visibility
from parvis.publishing.services import Content, publish_post
from tests.api.conftest import Api


def remote_account(name: str) -> Account:
    """An account of another server, as federation records it."""
    return Account.objects.create(
        handle=name,
        uri=f"https://remote.example/users/{name}",
        remote_host="remote.example",
        kind=AccountKind.PERSON,
        display_name=name.title(),
    )


def queued(task_name: str) -> int:
    """How many background tasks named ``task_name`` wait to run."""
    return DBTaskResult.objects.filter(task_path__endswith=f".{task_name}").count()


def test_favourite_is_idempotent_and_unfavourite_too(
    api: Api, publisher: Staff, function_account: Account
) -> None:
    post = publish_post(publisher, function_account, Content("Conseil municipal ce soir"))
    first = api.post(f"/api/v1/statuses/{post.pk}/favourite")
    assert first.status_code == 200, first.content
    assert first.json()["id"] == str(post.pk)
    assert first.json()["favourited"] is True and first.json()["favourites_count"] == 1
    again = api.post(f"/api/v1/statuses/{post.pk}/favourite")
    assert again.status_code == 200
    assert again.json()["favourited"] is True and again.json()["favourites_count"] == 1
    assert Reaction.objects.filter(kind=Reaction.Kind.FAVOURITE).count() == 1
    # The author's team hears of it once.
    assert Notification.objects.filter(recipient=function_account, kind="favourite").count() == 1
    undone = api.post(f"/api/v1/statuses/{post.pk}/unfavourite")
    assert undone.status_code == 200
    assert undone.json()["favourited"] is False and undone.json()["favourites_count"] == 0
    # Nothing to take back is no error.
    noop = api.post(f"/api/v1/statuses/{post.pk}/unfavourite")
    assert noop.status_code == 200 and noop.json()["favourited"] is False
    assert not Reaction.objects.exists()


def test_reblog_answers_the_boost_which_timelines_show(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    post = publish_post(publisher, function_account, Content("Fermeture de la piscine"))
    boosted = api.post(f"/api/v1/statuses/{post.pk}/reblog", {"visibility": "public"})
    assert boosted.status_code == 200, boosted.content
    boost = boosted.json()
    # Mastodon's answer: the account's own status, wrapping the boosted one.
    assert boost["id"] != str(post.pk) and boost["account"]["id"] == str(account.pk)
    assert boost["reblog"]["id"] == str(post.pk) and boost["reblogged"] is True
    assert boost["reblog"]["reblogs_count"] == 1 and boost["reblog"]["favourited"] is False
    again = api.post(f"/api/v1/statuses/{post.pk}/reblog").json()
    assert again["id"] == boost["id"] and again["reblog"]["reblogs_count"] == 1
    reaction = Reaction.objects.get()
    assert reaction.account == account and str(reaction.timeline_id) == boost["id"]
    # The boost is a status of its own: readable by its id, on the booster's timelines.
    assert api.get(f"/api/v1/statuses/{boost['id']}").json()["reblog"]["id"] == str(post.pk)
    home = api.get("/api/v1/timelines/home").json()
    assert [s["id"] for s in home] == [boost["id"]]
    mine = api.get(f"/api/v1/accounts/{account.pk}/statuses").json()
    assert [s["id"] for s in mine] == [boost["id"]]
    without = api.get(f"/api/v1/accounts/{account.pk}/statuses", {"exclude_reblogs": "true"})
    assert without.json() == []
    undone = api.post(f"/api/v1/statuses/{post.pk}/unreblog")
    assert undone.status_code == 200 and undone.json()["id"] == str(post.pk)
    assert undone.json()["reblogged"] is False and undone.json()["reblogs_count"] == 0
    assert api.post(f"/api/v1/statuses/{post.pk}/unreblog").status_code == 200
    assert not Reaction.objects.exists()
    assert api.get(f"/api/v1/statuses/{boost['id']}").status_code == 404


def test_home_merges_posts_and_boosts_in_order_across_pages(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    record_follow(account, function_account, "", approved=True)
    first = publish_post(publisher, function_account, Content("Un"))
    second = publish_post(publisher, function_account, Content("Deux"))
    boost = api.post(f"/api/v1/statuses/{first.pk}/reblog").json()
    third = publish_post(publisher, function_account, Content("Trois"))
    page = api.get("/api/v1/timelines/home", {"limit": "2"})
    assert [s["id"] for s in page.json()] == [str(third.pk), boost["id"]]
    following = api.get("/api/v1/timelines/home", {"limit": "2", "max_id": boost["id"]})
    assert [s["id"] for s in following.json()] == [str(second.pk), str(first.pk)]
    newer = api.get("/api/v1/timelines/home", {"limit": "2", "min_id": str(second.pk)})
    assert [s["id"] for s in newer.json()] == [str(third.pk), boost["id"]]
    assert f"max_id={boost['id']}" in page["Link"]


def test_followers_only_statuses_are_liked_but_never_boosted(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    private = publish_post(
        publisher, function_account, Content("Aux abonnés", visibility=Visibility.FOLLOWERS)
    )
    # Out of sight before following.
    assert api.post(f"/api/v1/statuses/{private.pk}/favourite").status_code == 404
    interactions.record_follow(account, function_account, "", approved=True)
    assert api.post(f"/api/v1/statuses/{private.pk}/favourite").json()["favourited"] is True
    assert api.post(f"/api/v1/statuses/{private.pk}/reblog").status_code == 404
    assert not Reaction.objects.filter(kind=Reaction.Kind.BOOST).exists()
    # Once out of sight again, the like can still be taken back (as with Mastodon).
    interactions.unfollow(account, function_account)
    assert api.get(f"/api/v1/statuses/{private.pk}").status_code == 404
    undone = api.post(f"/api/v1/statuses/{private.pk}/unfavourite")
    assert undone.status_code == 200 and undone.json()["favourited"] is False
    assert not Reaction.objects.exists()
    # With nothing to take back, an invisible status stays a 404.
    assert api.post(f"/api/v1/statuses/{private.pk}/unfavourite").status_code == 404


def test_blocks_between_the_accounts_forbid_reactions(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    post = publish_post(publisher, function_account, Content("Ordre du jour"))
    interactions.record_block(function_account, account)
    # An author who blocks you hides their statuses.
    assert api.post(f"/api/v1/statuses/{post.pk}/favourite").status_code == 404
    assert api.get(f"/api/v1/statuses/{post.pk}/favourited_by").status_code == 404
    interactions.remove_block(function_account, account)
    interactions.record_block(account, function_account)
    refused = api.post(f"/api/v1/statuses/{post.pk}/favourite")
    assert refused.status_code == 403 and list(refused.json()) == ["error"]
    assert api.post(f"/api/v1/statuses/{post.pk}/reblog").status_code == 404
    assert not Reaction.objects.exists()


def test_favouriting_a_remote_status_is_sent_to_its_server(api: Api, account: Account) -> None:
    alice = remote_account("alice")
    post = Post.objects.create(
        account=alice,
        text="Bonjour",
        content_html="<p>Bonjour</p>",
        uri="https://remote.example/users/alice/statuses/1",
        url="https://remote.example/@alice/1",
    )
    response = api.post(f"/api/v1/statuses/{post.pk}/favourite")
    assert response.status_code == 200, response.content
    assert response.json()["favourites_count"] == 1
    assert response.json()["account"]["acct"] == "alice@remote.example"
    assert Reaction.objects.filter(account=account, post=post, kind="favourite").exists()
    assert queued("federate_reaction_added") == 1
    api.post(f"/api/v1/statuses/{post.pk}/reblog")
    assert queued("federate_reaction_added") == 2
    api.post(f"/api/v1/statuses/{post.pk}/unfavourite")
    assert queued("federate_reaction_removed") == 1


def test_favourited_by_and_reblogged_by_paginate_by_reaction(
    publisher: Staff, function_account: Account
) -> None:
    post = publish_post(publisher, function_account, Content("Résultats du vote"))
    likers = [remote_account(f"agent{n}") for n in range(5)]
    reactions = [interactions.react(a, post, Reaction.Kind.FAVOURITE) for a in likers]
    interactions.react(likers[0], post, Reaction.Kind.BOOST)
    path = f"/api/v1/statuses/{post.pk}/favourited_by"
    first = Api().get(path, {"limit": "2"})
    assert first.status_code == 200, first.content
    assert [a["id"] for a in first.json()] == [str(likers[4].pk), str(likers[3].pk)]
    assert first.json()[0]["acct"] == "agent4@remote.example"
    assert f"max_id={reactions[3].pk}" in first["Link"] and 'rel="next"' in first["Link"]
    assert f"min_id={reactions[4].pk}" in first["Link"]
    second = Api().get(path, {"limit": "2", "max_id": str(reactions[3].pk)})
    assert [a["id"] for a in second.json()] == [str(likers[2].pk), str(likers[1].pk)]
    newer = Api().get(path, {"min_id": str(reactions[0].pk), "limit": "2"})
    assert [a["id"] for a in newer.json()] == [str(likers[2].pk), str(likers[1].pk)]
    assert len(Api().get(path).json()) == 5
    boosted = Api().get(f"/api/v1/statuses/{post.pk}/reblogged_by")
    assert [a["id"] for a in boosted.json()] == [str(likers[0].pk)]
    # Suspended accounts are left out.
    Account.objects.filter(pk=likers[4].pk).update(suspended_at=post.published_at)
    assert str(likers[4].pk) not in {a["id"] for a in Api().get(path).json()}
    assert Api().get(path, {"max_id": "abc"}).status_code == 400


def test_reaction_lists_follow_the_visibility_of_the_status(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    private = publish_post(
        publisher, function_account, Content("Aux abonnés", visibility=Visibility.FOLLOWERS)
    )
    path = f"/api/v1/statuses/{private.pk}/favourited_by"
    assert Api().get(path).status_code == 404
    assert api.get(path).status_code == 404
    interactions.record_follow(account, function_account, "", approved=True)
    assert api.get(path).json() == []


def test_follow_an_unlocked_local_account_at_once(
    api: Api, account: Account, function_account: Account
) -> None:
    response = api.post(f"/api/v1/accounts/{function_account.pk}/follow", {"reblogs": True})
    assert response.status_code == 200, response.content
    relation = response.json()
    assert relation["id"] == str(function_account.pk)
    assert relation["following"] is True and relation["requested"] is False
    assert relation["showing_reblogs"] is True and relation["followed_by"] is False
    assert Follow.objects.get().state == Follow.State.ACCEPTED
    assert Notification.objects.filter(recipient=function_account, kind="follow").count() == 1
    assert api.post(f"/api/v1/accounts/{function_account.pk}/follow").json()["following"]
    assert Follow.objects.count() == 1
    maire = api.get(f"/api/v1/accounts/{function_account.pk}").json()
    assert maire["followers_count"] == 1
    followers = Api().get(f"/api/v1/accounts/{function_account.pk}/followers")
    assert [a["id"] for a in followers.json()] == [str(account.pk)]
    following = Api().get(f"/api/v1/accounts/{account.pk}/following")
    assert [a["id"] for a in following.json()] == [str(function_account.pk)]
    undone = api.post(f"/api/v1/accounts/{function_account.pk}/unfollow")
    assert undone.status_code == 200
    assert undone.json()["following"] is False and undone.json()["requested"] is False
    assert not Follow.objects.exists()
    assert api.post(f"/api/v1/accounts/{function_account.pk}/unfollow").status_code == 200


def test_follow_a_locked_account_is_a_request_answered_by_its_team(
    api: Api, token_for, publisher: Staff, account: Account, function_account: Account
) -> None:
    Account.objects.filter(pk=function_account.pk).update(locked=True)
    asked = api.post(f"/api/v1/accounts/{function_account.pk}/follow")
    assert asked.status_code == 200, asked.content
    assert asked.json()["requested"] is True and asked.json()["following"] is False
    assert api.post(f"/api/v1/accounts/{function_account.pk}/follow").json()["requested"]
    assert Follow.objects.get().state == Follow.State.PENDING
    # Pending follows are no followers.
    assert Api().get(f"/api/v1/accounts/{function_account.pk}/followers").json() == []
    maire = Api(token_for(publisher, function_account))
    waiting = maire.get("/api/v1/follow_requests")
    assert waiting.status_code == 200
    assert [a["id"] for a in waiting.json()] == [str(account.pk)]
    seen = maire.get("/api/v1/accounts/relationships", {"id[]": [str(account.pk)]}).json()
    assert seen[0]["requested_by"] is True
    granted = maire.post(f"/api/v1/follow_requests/{account.pk}/authorize")
    assert granted.status_code == 200, granted.content
    assert granted.json()["id"] == str(account.pk)
    assert granted.json()["followed_by"] is True and granted.json()["requested_by"] is False
    assert Follow.objects.get().state == Follow.State.ACCEPTED
    assert maire.get("/api/v1/follow_requests").json() == []
    # Nothing is pending any more.
    assert maire.post(f"/api/v1/follow_requests/{account.pk}/authorize").status_code == 404
    mine = api.get("/api/v1/accounts/relationships", {"id[]": [str(function_account.pk)]})
    assert mine.json()[0]["following"] is True


def test_a_follow_request_can_be_rejected(
    token_for, publisher: Staff, account: Account, function_account: Account
) -> None:
    Account.objects.filter(pk=function_account.pk).update(locked=True)
    alice = remote_account("alice")
    interactions.record_follow(
        alice, function_account, "https://remote.example/f/1", approved=False
    )
    maire = Api(token_for(publisher, function_account))
    refused = maire.post(f"/api/v1/follow_requests/{alice.pk}/reject")
    assert refused.status_code == 200, refused.content
    assert refused.json()["followed_by"] is False and refused.json()["requested_by"] is False
    assert not Follow.objects.exists()
    # The other server learns of the refusal.
    assert queued("federate_follow_refused") == 1
    assert maire.post(f"/api/v1/follow_requests/{alice.pk}/reject").status_code == 404


def test_follow_requests_paginate(
    token_for, publisher: Staff, account: Account, function_account: Account
) -> None:
    people = [remote_account(f"citoyen{n}") for n in range(3)]
    follows = [interactions.record_follow(p, account, "", approved=False) for p in people]
    ville = Api(token_for(publisher, account))
    first = ville.get("/api/v1/follow_requests", {"limit": "2"})
    assert [a["id"] for a in first.json()] == [str(people[2].pk), str(people[1].pk)]
    assert f"max_id={follows[1].pk}" in first["Link"]
    rest = ville.get("/api/v1/follow_requests", {"max_id": str(follows[1].pk)})
    assert [a["id"] for a in rest.json()] == [str(people[0].pk)]


def test_following_a_remote_account_sends_a_request(api: Api, account: Account) -> None:
    alice = remote_account("alice")
    response = api.post(f"/api/v1/accounts/{alice.pk}/follow")
    assert response.status_code == 200, response.content
    assert response.json()["requested"] is True and response.json()["following"] is False
    assert Follow.objects.get(follower=account, target=alice).state == Follow.State.PENDING
    assert queued("federate_follow_requested") == 1
    api.post(f"/api/v1/accounts/{alice.pk}/follow")
    assert queued("federate_follow_requested") == 1
    withdrawn = api.post(f"/api/v1/accounts/{alice.pk}/unfollow")
    assert withdrawn.json()["requested"] is False and not Follow.objects.exists()
    assert queued("federate_follow_ended") == 1


def test_following_yourself_is_refused(api: Api, account: Account) -> None:
    response = api.post(f"/api/v1/accounts/{account.pk}/follow")
    assert response.status_code == 404 and list(response.json()) == ["error"]
    assert not Follow.objects.exists()


def test_block_ends_follows_both_ways_and_unblock_lifts_it(
    api: Api, account: Account, function_account: Account
) -> None:
    interactions.record_follow(account, function_account, "", approved=True)
    interactions.record_follow(function_account, account, "", approved=True)
    blocked = api.post(f"/api/v1/accounts/{function_account.pk}/block")
    assert blocked.status_code == 200, blocked.content
    relation = blocked.json()
    assert relation["blocking"] is True and relation["blocked_by"] is False
    assert relation["following"] is False and relation["followed_by"] is False
    assert not Follow.objects.exists()
    assert api.post(f"/api/v1/accounts/{function_account.pk}/block").json()["blocking"]
    assert Block.objects.count() == 1
    # No following an account one blocks, nor one that blocks you.
    refused = api.post(f"/api/v1/accounts/{function_account.pk}/follow")
    assert refused.status_code == 403 and not Follow.objects.exists()
    lifted = api.post(f"/api/v1/accounts/{function_account.pk}/unblock")
    assert lifted.status_code == 200 and lifted.json()["blocking"] is False
    assert not Block.objects.exists()
    assert api.post(f"/api/v1/accounts/{function_account.pk}/unblock").status_code == 200
    interactions.record_block(function_account, account)
    assert api.post(f"/api/v1/accounts/{function_account.pk}/follow").status_code == 403
    assert api.post(f"/api/v1/accounts/{account.pk}/block").json()["blocking"] is False


def test_an_account_that_blocks_you_hides_its_lists(
    api: Api, account: Account, function_account: Account
) -> None:
    alice = remote_account("alice")
    interactions.record_follow(alice, function_account, "", approved=True)
    path = f"/api/v1/accounts/{function_account.pk}/followers"
    assert len(api.get(path).json()) == 1
    interactions.record_block(function_account, account)
    assert api.get(path).json() == []
    assert len(Api().get(path).json()) == 1


def test_an_editors_token_may_read_but_not_act(
    token_for, editor: Staff, publisher: Staff, account: Account, function_account: Account
) -> None:
    post = publish_post(publisher, function_account, Content("Message du maire"))
    own = publish_post(publisher, account, Content("Message de la ville"))
    alice = remote_account("alice")
    interactions.record_follow(alice, account, "", approved=False)
    api = Api(token_for(editor, account))
    for path in (
        f"/api/v1/statuses/{post.pk}/favourite",
        f"/api/v1/statuses/{post.pk}/unfavourite",
        f"/api/v1/statuses/{post.pk}/reblog",
        f"/api/v1/statuses/{post.pk}/unreblog",
        f"/api/v1/accounts/{function_account.pk}/follow",
        f"/api/v1/accounts/{function_account.pk}/unfollow",
        f"/api/v1/accounts/{function_account.pk}/block",
        f"/api/v1/accounts/{function_account.pk}/unblock",
        f"/api/v1/follow_requests/{alice.pk}/authorize",
        f"/api/v1/follow_requests/{alice.pk}/reject",
        f"/api/v1/statuses/{own.pk}/pin",
        f"/api/v1/statuses/{own.pk}/unpin",
    ):
        response = api.post(path)
        assert response.status_code == 403, path
        assert list(response.json()) == ["error"], path
    assert not Reaction.objects.exists() and not Block.objects.exists()
    assert not Post.objects.filter(pinned_at__isnull=False).exists()
    assert list(Follow.objects.values_list("follower", "state")) == [(alice.pk, "pending")]
    assert [a["id"] for a in api.get("/api/v1/follow_requests").json()] == [str(alice.pk)]
    assert api.get(f"/api/v1/statuses/{post.pk}/favourited_by").status_code == 200


def test_scopes_are_checked(token_for, publisher: Staff, account: Account) -> None:
    post = publish_post(publisher, account, Content("Portées"))
    reader = Api(token_for(publisher, account, scope="read"))
    assert reader.post(f"/api/v1/statuses/{post.pk}/favourite").status_code == 403
    assert reader.post(f"/api/v1/accounts/{account.pk}/block").status_code == 403
    assert reader.get("/api/v1/follow_requests").status_code == 200
    liker = Api(token_for(publisher, account, scope="write:favourites"))
    assert liker.post(f"/api/v1/statuses/{post.pk}/favourite").status_code == 200
    assert liker.post(f"/api/v1/statuses/{post.pk}/reblog").status_code == 403
    assert Api().post(f"/api/v1/statuses/{post.pk}/favourite").status_code == 401
    assert Api().get("/api/v1/follow_requests").status_code == 401


def test_unknown_and_malformed_ids_are_404(api: Api, account: Account) -> None:
    for path in (
        "/api/v1/statuses/999999/favourite",
        "/api/v1/statuses/abc/unfavourite",
        "/api/v1/statuses/99999999999999999999999/reblog",
        "/api/v1/statuses/1e5/unreblog",
        "/api/v1/accounts/999999/follow",
        "/api/v1/accounts/abc/unfollow",
        "/api/v1/accounts/-1/block",
        "/api/v1/accounts/999999/unblock",
        "/api/v1/follow_requests/999999/authorize",
        "/api/v1/follow_requests/abc/reject",
    ):
        response = api.post(path)
        assert response.status_code == 404, path
        assert list(response.json()) == ["error"], path
    for path in (
        "/api/v1/statuses/999999/favourited_by",
        "/api/v1/statuses/abc/reblogged_by",
        "/api/v1/accounts/999999/followers",
        "/api/v1/accounts/1e5/following",
    ):
        response = Api().get(path)
        assert response.status_code == 404, path
        assert list(response.json()) == ["error"], path
    assert not Follow.objects.exists() and not Block.objects.exists()


def test_favourites_lists_what_the_account_liked_latest_first(
    api: Api, publisher: Staff, function_account: Account
) -> None:
    older = publish_post(publisher, function_account, Content("Plus ancien"))
    newer = publish_post(publisher, function_account, Content("Plus récent"))
    api.post(f"/api/v1/statuses/{newer.pk}/favourite")
    api.post(f"/api/v1/statuses/{older.pk}/favourite")
    liked = api.get("/api/v1/favourites")
    assert [s["id"] for s in liked.json()] == [str(older.pk), str(newer.pk)]
    assert all(s["favourited"] for s in liked.json())
    first = api.get("/api/v1/favourites", {"limit": "1"})
    assert 'rel="next"' in first["Link"]
    assert Api().get("/api/v1/favourites").status_code == 401


def test_pin_the_accounts_own_statuses_five_at_most(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    posts = [publish_post(publisher, account, Content(f"N° {n}")) for n in range(6)]
    for post in posts[:5]:
        pinned = api.post(f"/api/v1/statuses/{post.pk}/pin")
        assert pinned.status_code == 200, pinned.content
        assert pinned.json()["id"] == str(post.pk)
        assert pinned.json()["pinned"] is True
    sixth = api.post(f"/api/v1/statuses/{posts[5].pk}/pin")
    assert sixth.status_code == 422 and "5" in sixth.json()["error"]
    listed = api.get(f"/api/v1/accounts/{account.pk}/statuses", {"pinned": "true"})
    assert [s["id"] for s in listed.json()] == [str(p.pk) for p in posts[4::-1]]
    # Anyone may read them; a page past them is empty.
    assert len(Api().get(f"/api/v1/accounts/{account.pk}/statuses?pinned=true").json()) == 5
    further = {"pinned": "true", "max_id": str(posts[0].pk)}
    assert api.get(f"/api/v1/accounts/{account.pk}/statuses", further).json() == []
    assert api.post(f"/api/v1/statuses/{posts[1].pk}/unpin").json()["pinned"] is False
    assert api.post(f"/api/v1/statuses/{posts[1].pk}/unpin").status_code == 200
    shown = {s["id"]: s["pinned"] for s in api.get("/api/v1/timelines/home").json()}
    assert shown[str(posts[0].pk)] is True and shown[str(posts[1].pk)] is False
    listed = api.get(f"/api/v1/accounts/{account.pk}/statuses", {"pinned": "true"}).json()
    assert str(posts[1].pk) not in [s["id"] for s in listed]
    # Another account's status, and unknown ids.
    other = publish_post(publisher, function_account, Content("Du maire"))
    refused = api.post(f"/api/v1/statuses/{other.pk}/pin")
    assert refused.status_code == 422 and "error" in refused.json()
    assert api.post("/api/v1/statuses/12345/pin").status_code == 404
    assert api.post("/api/v1/statuses/abc/unpin").status_code == 404
    assert not Post.objects.filter(pk=other.pk, pinned_at__isnull=False).exists()


def test_a_frozen_account_takes_no_new_follower(
    api: Api, account: Account, function_account: Account
) -> None:
    # Its mandate ended: the account stays readable but gains no follower.
    Account.objects.filter(pk=function_account.pk).update(frozen_at=function_account.created_at)
    response = api.post(f"/api/v1/accounts/{function_account.pk}/follow")
    assert response.status_code == 403
    assert "gelé" in response.json()["error"]
    assert not Follow.objects.exists()
