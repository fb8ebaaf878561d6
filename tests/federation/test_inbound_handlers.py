"""What received activities do: replies, mentions, likes, boosts, edits, deletions,
blocks, moves and reports from a remote actor served on loopback, signed for real,
and the misattributed or out-of-order ones that must change nothing."""

import json

import pytest

from parvis.core.tasks import run_pending
from parvis.federation.models import Delivery, InboundActivity, RemoteActor
from parvis.identity.models import Account, Staff
from parvis.interactions import services as interactions
from parvis.interactions.models import Block, Follow, Notification, Reaction
from parvis.moderation.models import Report
from parvis.publishing import services
from parvis.publishing.models import Post, Visibility
from parvis.publishing.services import Content
from tests.federation.signed import VILLE, Remote, make_remote, post

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def drain() -> None:
    for _ in range(10):
        if run_pending() == 0:
            return


def send(remote: Remote, activity: dict) -> str:
    """Deliver ``activity`` signed by ``remote`` and return what processing made of it."""
    response = post(activity, key_id=remote.key_id, key=remote.key)
    assert response.status_code == 202, response.content
    drain()
    return InboundActivity.objects.get(uri=activity["id"]).outcome


@pytest.fixture
def local_post(publisher: Staff, account: Account) -> Post:
    return services.publish_post(publisher, account, Content(text="Le marché est ouvert."))


def note(remote: Remote, number: str, content: str, **fields: object) -> dict:
    return {
        "id": f"{remote.uri}/statuses/{number}",
        "type": "Note",
        "attributedTo": remote.uri,
        "content": content,
        "contentMap": {"fr": content},
        "published": "2026-11-21T10:00:00Z",
        "to": [PUBLIC],
        "cc": [f"{remote.uri}/followers"],
        **fields,
    }


def reply(remote: Remote, parent: Post, number: str = "1", content: str = "<p>Merci !</p>"):
    return remote.activity(
        "Create",
        note(remote, number, content, inReplyTo=f"{VILLE}/{parent.pk}"),
        suffix=f"create-{number}",
    )


def test_a_reply_is_stored_sanitised_and_notified(remote: Remote, local_post: Post) -> None:
    hostile = (
        '<p>Merci <a href="javascript:alert(1)" onclick="x()">ici</a>'
        "<script>alert(1)</script><img src=x onerror=alert(1)></p>"
    )
    assert send(remote, reply(remote, local_post, content=hostile)) == "post recorded"
    received = Post.objects.get(uri=f"{remote.uri}/statuses/1")
    assert received.in_reply_to == local_post and received.visibility == Visibility.PUBLIC
    assert received.language == "fr" and not received.account.is_local
    for needle in ("script", "onclick", "onerror", "javascript:", "<img"):
        assert needle not in received.content_html
    assert received.text.startswith("Merci")
    notification = Notification.objects.get()
    assert notification.kind == Notification.Kind.MENTION
    assert notification.recipient == local_post.account and notification.post == received
    assert list(local_post.replies.replies_shown()) == [received]
    # Received posts never reach this server's own timelines.
    assert received not in Post.objects.public()


def test_a_mention_without_reply_is_stored_as_direct(remote: Remote, account: Account) -> None:
    mention = note(
        remote,
        "2",
        '<p><span class="h-card"><a href="https://social.blois.fr/@ville" class="u-url mention">'
        "@<span>ville</span></a></span> bonjour</p>",
        to=[VILLE],
        cc=[],
        tag=[{"type": "Mention", "href": VILLE, "name": "@ville@social.blois.fr"}],
    )
    assert send(remote, remote.activity("Create", mention)) == "post recorded"
    received = Post.objects.get()
    assert received.visibility == Visibility.DIRECT and list(received.mentions.all()) == [account]
    assert Notification.objects.get().kind == Notification.Kind.MENTION
    assert 'class="u-url mention"' in received.content_html


def test_a_post_for_no_one_here_is_not_stored(remote: Remote, account: Account) -> None:
    activity = remote.activity("Create", note(remote, "3", "<p>Rien à voir</p>"))
    assert send(remote, activity) == "post not addressed to this server: ignored"
    assert not Post.objects.exists()


def test_s8_a_note_of_another_origin_is_fetched_there_and_refused(
    remote: Remote, local_post: Post
) -> None:
    """CVE-2024-23832 class: a Create whose object claims another origin."""
    forged = note(remote, "4", "<p>Faux</p>", inReplyTo=f"{VILLE}/{local_post.pk}")
    forged["id"] = remote.sink.url("/statuses/4").replace("127.0.0.1", "localhost")
    outcome = send(remote, remote.activity("Create", forged, suffix="s8"))
    assert outcome.startswith("refused:")
    assert not Post.objects.filter(uri=forged["id"]).exists()


def test_s8_a_note_attributed_to_someone_else_is_refused(remote: Remote, local_post: Post) -> None:
    other = make_remote(remote.sink, "bob")
    forged = note(remote, "5", "<p>Au nom de Bob</p>", inReplyTo=f"{VILLE}/{local_post.pk}")
    forged["attributedTo"] = other.uri
    outcome = send(remote, remote.activity("Create", forged, suffix="s8b"))
    assert outcome.startswith("refused:") and not Post.objects.filter(uri=forged["id"]).exists()


def test_like_and_undo_like_ten_times_each(remote: Remote, local_post: Post) -> None:
    like = remote.activity("Like", f"{VILLE}/{local_post.pk}")
    for _ in range(10):
        post(like, key_id=remote.key_id, key=remote.key)
    drain()
    reaction = Reaction.objects.get()
    assert reaction.kind == Reaction.Kind.FAVOURITE and reaction.post == local_post
    assert Notification.objects.get().kind == Notification.Kind.FAVOURITE
    assert send(remote, remote.activity("Undo", like, suffix="undo-like")) == "reaction undone"
    assert not Reaction.objects.exists()


def test_boost_of_a_public_post_and_refusal_for_followers_only(
    remote: Remote, publisher: Staff, account: Account, local_post: Post
) -> None:
    boost = remote.activity("Announce", f"{VILLE}/{local_post.pk}")
    assert send(remote, boost) == "boost recorded"
    private = services.publish_post(
        publisher, account, Content(text="Abonnés", visibility=Visibility.FOLLOWERS)
    )
    boost_private = remote.activity("Announce", f"{VILLE}/{private.pk}", suffix="2")
    assert send(remote, boost_private) == "boost of a post that is not public refused"
    assert Reaction.objects.get().post == local_post
    undo = remote.activity("Undo", {"id": boost["id"], "type": "Announce"}, suffix="u")
    assert send(remote, undo) == "reaction undone"


def test_edit_by_its_author_keeps_the_earlier_version(remote: Remote, local_post: Post) -> None:
    send(remote, reply(remote, local_post))
    edited = note(remote, "1", "<p>Merci beaucoup !</p>", inReplyTo=f"{VILLE}/{local_post.pk}")
    update = remote.activity("Update", edited, suffix="update-1")
    assert send(remote, update) == "post edited"
    received = Post.objects.get(uri=edited["id"])
    assert received.content_html == "<p>Merci beaucoup !</p>" and received.edited_at
    assert [e.content_html for e in received.edits.all()] == [
        "<p>Merci !</p>",
        "<p>Merci beaucoup !</p>",
    ]


def test_s9_update_and_delete_of_another_actors_post_are_refused(
    remote: Remote, local_post: Post
) -> None:
    send(remote, reply(remote, local_post))
    bob = make_remote(remote.sink, "bob")
    hijacked = note(remote, "1", "<p>Piraté</p>")
    assert send(bob, bob.activity("Update", hijacked)) == "update of another actor's post refused"
    delete = bob.activity("Delete", {"id": hijacked["id"], "type": "Tombstone"})
    assert send(bob, delete) == "delete of another actor's post refused"
    other_origin = bob.activity("Delete", f"{VILLE}/{local_post.pk}", suffix="2")
    assert send(bob, other_origin) == "delete of an object on another origin refused"
    received = Post.objects.get(uri=hijacked["id"])
    assert received.content_html == "<p>Merci !</p>" and received.deleted_at is None
    local_post.refresh_from_db()
    assert local_post.deleted_at is None


def test_delete_by_its_author(remote: Remote, local_post: Post) -> None:
    send(remote, reply(remote, local_post))
    uri = f"{remote.uri}/statuses/1"
    delete = remote.activity("Delete", {"id": uri, "type": "Tombstone"})
    assert send(remote, delete) == "post deleted"
    received = Post.objects.get(uri=uri)
    assert received.deleted_at and received.content_html == ""
    assert not local_post.replies.replies_shown().exists()


def test_n2_delete_before_create_wins(remote: Remote, local_post: Post) -> None:
    create = reply(remote, local_post, "9")
    delete = remote.activity("Delete", {"id": create["object"]["id"], "type": "Tombstone"})
    assert send(remote, delete) == "post deleted"
    assert send(remote, create) == "post already deleted"
    assert not Post.objects.replies_shown().filter(uri=create["object"]["id"]).exists()
    assert not Notification.objects.exists()


def test_n2_undo_before_follow_wins(remote: Remote, account: Account) -> None:
    follow = remote.activity("Follow", VILLE)
    undo = remote.activity("Undo", follow, suffix="undo")
    assert send(remote, undo) == "undo of an unknown activity"
    assert send(remote, follow) == "already undone"
    assert not Follow.objects.exists()


def test_block_ends_follows_both_ways(remote: Remote, account: Account) -> None:
    send(remote, remote.activity("Follow", VILLE))
    actor = RemoteActor.objects.get()
    interactions.record_follow(account, actor.account, "", approved=True)
    assert send(remote, remote.activity("Block", VILLE)) == "block recorded"
    assert not Follow.objects.exists()
    assert Block.objects.get().target == account
    undo = remote.activity("Undo", remote.activity("Block", VILLE), suffix="u")
    assert send(remote, undo) == "block undone" and not Block.objects.exists()


def test_flag_files_a_report(remote: Remote, local_post: Post) -> None:
    flag = remote.activity("Flag", [VILLE, f"{VILLE}/{local_post.pk}"])
    flag["content"] = "Propos contraires à la charte"
    assert send(remote, flag) == "report filed"
    report = Report.objects.get()
    assert report.target == local_post.account and list(report.posts.all()) == [local_post]
    assert report.comment == "Propos contraires à la charte"
    assert report.reporter.uri == remote.uri


def test_profile_update_is_refetched_not_trusted(remote: Remote, account: Account) -> None:
    """mei23/misskey#27 pattern: the embedded actor's fields are ignored."""
    send(remote, remote.activity("Follow", VILLE))
    forged = dict(remote.sink.documents["/users/alice"], name="Faux nom")
    forged["publicKey"] = dict(forged["publicKey"], publicKeyPem="forged")
    remote.sink.documents["/users/alice"] = dict(
        remote.sink.documents["/users/alice"], name="Alice Martin"
    )
    assert send(remote, remote.activity("Update", forged)) == "profile refreshed"
    actor = RemoteActor.objects.get()
    assert actor.account.display_name == "Alice Martin"
    assert actor.public_key_pem.startswith("-----BEGIN PUBLIC KEY")


def test_actor_deletion_erases_its_posts_and_follows(remote: Remote, local_post: Post) -> None:
    send(remote, remote.activity("Follow", VILLE))
    send(remote, reply(remote, local_post))
    assert send(remote, remote.activity("Delete", remote.uri)) == "actor deleted"
    assert not Follow.objects.exists()
    assert not Post.objects.replies_shown().filter(account__uri=remote.uri).exists()
    assert RemoteActor.objects.get().account.suspended_at is not None


def test_move_makes_local_followers_follow_the_new_account(
    remote: Remote, account: Account
) -> None:
    send(remote, remote.activity("Follow", VILLE))
    old = RemoteActor.objects.get()
    interactions.record_follow(account, old.account, "", approved=True)
    new = make_remote(remote.sink, "alice2")
    remote.sink.documents["/users/alice2"]["alsoKnownAs"] = [remote.uri]
    move = remote.activity("Move", remote.uri)
    move["target"] = new.uri
    assert send(remote, move) == "move recorded, 1 follows moved"
    old.account.refresh_from_db()
    assert old.account.moved_to.uri == new.uri
    follow = Follow.objects.get(follower=account)
    assert follow.target.uri == new.uri and follow.state == Follow.State.PENDING
    sent = [json.loads(r.body) for r in remote.sink.received]
    assert any(a["type"] == "Follow" and a["object"] == new.uri for a in sent)


def test_move_to_an_account_that_does_not_name_the_old_one_is_refused(
    remote: Remote, account: Account
) -> None:
    send(remote, remote.activity("Follow", VILLE))
    old = RemoteActor.objects.get()
    interactions.record_follow(account, old.account, "", approved=True)
    stranger = make_remote(remote.sink, "mallory")
    move = remote.activity("Move", remote.uri)
    move["target"] = stranger.uri
    assert send(remote, move).startswith("move refused")
    assert Follow.objects.get(follower=account).target == old.account


def test_locked_account_follow_request_then_approval(remote: Remote, account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(locked=True)
    assert send(remote, remote.activity("Follow", VILLE)) == "follow request awaiting approval"
    follow = Follow.objects.get()
    assert follow.state == Follow.State.PENDING and not Delivery.objects.exists()
    assert Notification.objects.get().kind == Notification.Kind.FOLLOW_REQUEST
    interactions.approve_follow_request(follow)
    drain()
    accept = json.loads(remote.sink.received[-1].body)
    assert accept["type"] == "Accept" and accept["object"]["id"] == follow.uri
    assert Follow.objects.get().state == Follow.State.ACCEPTED


def test_following_a_remote_account_and_its_accept(remote: Remote, account: Account) -> None:
    send(remote, remote.activity("Arrive", VILLE))  # makes the actor known
    actor_account = RemoteActor.objects.get().account
    follow = interactions.request_follow(account, actor_account)
    drain()
    sent = json.loads(remote.sink.received[-1].body)
    assert sent["type"] == "Follow" and sent["object"] == remote.uri
    follow.refresh_from_db()
    assert sent["id"] == follow.uri and follow.state == Follow.State.PENDING
    accept = remote.activity("Accept", sent, suffix="accept")
    assert send(remote, accept) == "follow accepted by the remote account"
    assert Follow.objects.get().state == Follow.State.ACCEPTED
    # Its posts now reach this server even when they name no one here.
    assert send(remote, remote.activity("Create", note(remote, "7", "<p>Bonjour</p>"))) == (
        "post recorded"
    )
    interactions.unfollow(account, actor_account)
    drain()
    undo = json.loads(remote.sink.received[-1].body)
    assert undo["type"] == "Undo" and undo["object"]["id"] == follow.uri


def test_n3_a_suspended_remote_actor_changes_nothing(remote: Remote, local_post: Post) -> None:
    send(remote, remote.activity("Arrive", VILLE))
    Account.objects.filter(uri=remote.uri).update(suspended_at=local_post.published_at)
    assert send(remote, reply(remote, local_post)) == "actor suspended: ignored"
    like = remote.activity("Like", f"{VILLE}/{local_post.pk}")
    assert send(remote, like) == "actor suspended: ignored"
    assert not Post.objects.filter(uri__startswith=remote.uri).exists()
    assert not Reaction.objects.exists() and not Notification.objects.exists()


def test_a_block_by_the_account_hides_the_blocked_actor(remote: Remote, local_post: Post) -> None:
    send(remote, remote.activity("Arrive", VILLE))
    stranger = Account.objects.get(uri=remote.uri)
    interactions.record_block(local_post.account, stranger)
    assert send(remote, remote.activity("Follow", VILLE)) == (
        "follow refused: the account blocks the actor"
    )
    like = remote.activity("Like", f"{VILLE}/{local_post.pk}")
    assert send(remote, like) == "favourite refused: blocked or deleted"
    send(remote, reply(remote, local_post))
    assert not Notification.objects.exists()
    sent = [json.loads(r.body)["type"] for r in remote.sink.received]
    assert "Reject" in sent


def test_deletion_of_an_actor_never_known_here_is_acknowledged_without_a_fetch(
    remote: Remote, account: Account
) -> None:
    gone = remote.sink.url("/users/gone")
    delete = {"id": f"{gone}#delete", "type": "Delete", "actor": gone, "object": gone}
    response = post(delete, key_id=f"{gone}#main-key", key=remote.key)
    assert response.status_code == 202
    assert not InboundActivity.objects.exists() and not remote.sink.fetches


def question(remote: Remote, number: str, votes: tuple[int, int], **fields: object) -> dict:
    """A poll as Mastodon sends it: a Question whose choices count their votes."""
    return note(
        remote,
        number,
        "<p>Quel horaire pour le marché ?</p>",
        type="Question",
        endTime="2026-11-28T10:00:00Z",
        oneOf=[
            {
                "type": "Note",
                "name": "Le matin",
                "replies": {"type": "Collection", "totalItems": votes[0]},
            },
            {
                "type": "Note",
                "name": "<b>L'après-midi</b>",
                "replies": {"type": "Collection", "totalItems": votes[1]},
            },
        ],
        **fields,
    )


def test_a_poll_is_kept_and_its_counts_follow_updates(remote: Remote, account: Account) -> None:
    send(remote, remote.activity("Arrive", VILLE))  # makes the actor known
    follow = interactions.request_follow(account, RemoteActor.objects.get().account)
    interactions.accept_follow(follow)
    created = remote.activity("Create", question(remote, "9", (3, 1)), suffix="create-9")
    send(remote, created)
    post = Post.objects.get(uri=f"{remote.uri}/statuses/9")
    assert post.poll.options == [
        {"title": "Le matin", "votes_count": 3},
        {"title": "L'après-midi", "votes_count": 1},
    ]
    assert post.poll.multiple is False and post.poll.expires_at.isoformat().startswith("2026-11-28")
    # New counts arrive as an Update of the question: the post is not marked edited.
    updated = remote.activity("Update", question(remote, "9", (4, 2)), suffix="update-9")
    send(remote, updated)
    post.refresh_from_db()
    assert [o["votes_count"] for o in post.poll.options] == [4, 2]
    assert post.edited_at is None and not post.edits.exists()
    # Several answers (anyOf) with their voters; hostile counts are read as zero.
    several = question(remote, "10", (0, 0))
    several["anyOf"] = several.pop("oneOf")
    several["anyOf"][0]["replies"]["totalItems"] = -5
    several["anyOf"][1]["replies"] = "many"
    several["votersCount"] = 7
    send(remote, remote.activity("Create", several, suffix="create-10"))
    poll = Post.objects.get(uri=f"{remote.uri}/statuses/10").poll
    assert poll.multiple is True and poll.voters_count == 7
    assert [o["votes_count"] for o in poll.options] == [0, 0]


def test_a_frozen_account_keeps_its_followers_and_refuses_new_ones(
    remote: Remote, account: Account
) -> None:
    # The mandate ended: the account is frozen by the roster import.
    assert send(remote, remote.activity("Follow", VILLE, suffix="first")) == "follow accepted"
    Account.objects.filter(pk=account.pk).update(frozen_at=account.created_at)
    # A follower re-sending its Follow (it lost the Accept) is still accepted...
    assert send(remote, remote.activity("Follow", VILLE, suffix="again")) == "follow accepted"
    # ...a newcomer is refused with a Reject.
    Follow.objects.all().delete()
    assert send(remote, remote.activity("Follow", VILLE, suffix="late")) == (
        "follow refused: the account is frozen"
    )
    assert not Follow.objects.exists()
    drain()
    assert json.loads(remote.sink.received[-1].body)["type"] == "Reject"
