"""Real documents of other servers (../shared/data/activitypub): parsed, and handled for real.

For handling, a real activity is replayed from the loopback sink: its server's
origin is replaced by the sink's, the actor is served there and signs the
delivery, and the object is made to answer a post of this server. Everything
else in the document is as its server wrote it.
"""

import json
from pathlib import Path

import pytest

from parvis.core.tasks import run_pending
from parvis.federation import signatures
from parvis.federation.models import InboundActivity
from parvis.federation.vocab.actors import ActorError, parse_actor
from parvis.federation.vocab.notes import NOTE_TYPES, parse_note
from parvis.identity.models import Account, Staff
from parvis.interactions.models import Notification, Reaction
from parvis.moderation.models import Report
from parvis.publishing import services
from parvis.publishing.models import Post
from parvis.publishing.services import Content
from tests.federation.signed import VILLE, Remote, post

ACTIVITYPUB = "activitypub"
pytestmark = pytest.mark.django_db(transaction=True)


def _json_files(shared_data: Path, *parts: str) -> list[Path]:
    return sorted((shared_data / ACTIVITYPUB).joinpath(*parts).rglob("*.json"))


def _objects(document: object) -> list[dict]:
    """Every object of a post type in a document, embedded ones included."""
    found = []
    if isinstance(document, dict):
        if document.get("type") in NOTE_TYPES and isinstance(document.get("id"), str):
            found.append(document)
        for value in document.values():
            found.extend(_objects(value))
    elif isinstance(document, list):
        for value in document:
            found.extend(_objects(value))
    return found


def test_every_real_post_object_parses_safely(shared_data: Path) -> None:
    parsed = 0
    for path in _json_files(shared_data, "lemmy-apub-assets"):
        for document in _objects(json.loads(path.read_text())):
            note = parse_note(document)
            assert note.uri == document["id"]
            for needle in ("<script", "onerror", "javascript:"):
                assert needle not in note.content_html.lower(), path
            if document.get("content"):
                assert note.text.strip(), path
            parsed += 1
    assert parsed >= 30


def test_real_actor_documents_parse(shared_data: Path) -> None:
    accepted, refused = [], []
    for path in _json_files(shared_data, "fedidevs-samples-2024-04", "actor"):
        document = json.loads(path.read_text())
        try:
            actor = parse_actor(document, document["id"])
        except ActorError:
            refused.append(path.stem)
            continue
        accepted.append(path.stem)
        assert actor.profile.uri == document["id"] and actor.inbox.startswith("http")
        # Every key loads, Mobilizon's PKCS#1 "RSA PUBLIC KEY" included.
        assert actor.key_id and signatures.load_public_pem(actor.public_key_pem), path
    assert not refused and len(accepted) == 15


@pytest.fixture
def local_post(publisher: Staff, account: Account) -> Post:
    return services.publish_post(publisher, account, Content(text="Consultation publique"))


def replay(remote: Remote, shared_data: Path, name: str, **overrides: object) -> tuple[str, dict]:
    """Replay a real activity from the sink; return its outcome and the activity sent."""
    original = json.loads((shared_data / ACTIVITYPUB / "lemmy-apub-assets" / name).read_text())
    actor = original["actor"]
    origin = "/".join(actor.split("/")[:3])
    path = actor[len(origin) :]
    text = json.dumps(original).replace(origin, remote.sink.url(""))
    activity = json.loads(text)
    uri = remote.sink.url(path)
    remote.sink.documents[path] = dict(
        remote.sink.documents["/users/alice"],
        id=uri,
        inbox=f"{uri}/inbox",
        publicKey=dict(
            remote.sink.documents["/users/alice"]["publicKey"], id=f"{uri}#main-key", owner=uri
        ),
    )
    for key, value in overrides.items():
        if key == "object" and isinstance(activity["object"], dict):
            activity["object"].update(value)  # type: ignore[arg-type]
        else:
            activity[key] = value
    response = post(activity, key_id=f"{uri}#main-key", key=remote.key)
    assert response.status_code == 202, response.content
    for _ in range(5):
        run_pending()
    return InboundActivity.objects.get(uri=activity["id"]).outcome, activity


@pytest.mark.parametrize(
    "name",
    [
        "mastodon/activities/create_note.json",
        "pleroma/activities/create_note.json",
        "lemmy/activities/create_or_update/create_comment.json",
        "friendica/activities/create_note.json",
        "lotide/activities/create_note_reply.json",
    ],
)
def test_real_replies_are_stored_under_the_post(
    remote: Remote, shared_data: Path, local_post: Post, name: str
) -> None:
    outcome, activity = replay(
        remote, shared_data, name, object={"inReplyTo": f"{VILLE}/{local_post.pk}"}
    )
    assert outcome == "post recorded"
    stored = Post.objects.get(uri=activity["object"]["id"])
    assert stored.in_reply_to == local_post and stored.text.strip()
    assert Notification.objects.get().recipient == local_post.account


def test_a_real_mastodon_like_and_flag(remote: Remote, shared_data: Path, local_post: Post) -> None:
    outcome, _like = replay(
        remote, shared_data, "mastodon/activities/like_page.json", object=f"{VILLE}/{local_post.pk}"
    )
    assert outcome == "favourite recorded" and Reaction.objects.get().post == local_post
    outcome, _flag = replay(
        remote,
        shared_data,
        "mastodon/activities/flag.json",
        object=[VILLE, f"{VILLE}/{local_post.pk}"],
    )
    assert outcome == "report filed"
    assert list(Report.objects.get().posts.all()) == [local_post]
