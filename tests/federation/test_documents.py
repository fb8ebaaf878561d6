"""What other servers read from Parvis: WebFinger, NodeInfo, actors, notes, collections."""

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.test import Client
from django.utils import timezone

from parvis.federation.models import ActorKey
from parvis.identity.models import Account, Staff
from parvis.publishing import pins, services
from parvis.publishing.models import Visibility
from parvis.publishing.services import Content
from tests.conftest import image_bytes

AP = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


@pytest.fixture(autouse=True)
def _hosts(settings) -> None:
    settings.ALLOWED_HOSTS = ["*"]


@pytest.fixture
def client_on(domain) -> Client:
    return Client(HTTP_HOST=domain.name)


def _get(client: Client, path: str, accept: str = AP) -> dict:
    response = client.get(path, HTTP_ACCEPT=accept)
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    return json.loads(response.content)


def test_webfinger_by_acct_and_by_actor_url(client_on: Client, account: Account) -> None:
    for resource in (
        "acct:ville@social.blois.fr",
        "acct:VILLE@Social.Blois.FR",
        "https://social.blois.fr/@ville",
    ):
        response = client_on.get("/.well-known/webfinger", {"resource": resource})
        assert response.status_code == 200, resource
        assert response["Content-Type"].startswith("application/jrd+json")
        document = response.json()
        assert document["subject"] == "acct:ville@social.blois.fr"
        self_link = next(link for link in document["links"] if link["rel"] == "self")
        assert self_link == {"rel": "self", "type": AP, "href": "https://social.blois.fr/@ville"}


@pytest.mark.parametrize(
    ("resource", "status"),
    [
        ("", 400),
        ("ville", 400),
        ("acct:", 400),
        ("acct:ville", 400),
        ("mailto:a@b.fr", 400),
        ("acct:ville@ailleurs.example", 404),
        ("acct:personne@social.blois.fr", 404),
        ("x" * 2000, 400),
    ],
)
def test_webfinger_bad_resources(
    client_on: Client, account: Account, resource: str, status: int
) -> None:
    response = client_on.get("/.well-known/webfinger", {"resource": resource})
    assert response.status_code == status
    assert "error" in response.json()


def test_actor_document_has_what_mastodon_reads(
    client_on: Client, account: Account, shared_data: Path
) -> None:
    assert not ActorKey.objects.exists()  # keys are made on first need, not at creation
    actor = _get(client_on, "/@ville")
    mastodon = json.loads(
        (shared_data / "activitypub/fedidevs-samples-2024-04/actor/mastodon.json").read_text()
    )
    expected = {
        "id",
        "type",
        "preferredUsername",
        "name",
        "summary",
        "url",
        "inbox",
        "outbox",
        "followers",
        "following",
        "featured",
        "endpoints",
        "publicKey",
        "published",
        "discoverable",
        "manuallyApprovesFollowers",
        "attachment",
        "tag",
    }
    assert expected <= set(mastodon) | {"attachment", "tag"}
    assert expected <= set(actor)
    assert actor["id"] == "https://social.blois.fr/@ville"
    assert actor["type"] == "Organization"
    assert actor["endpoints"]["sharedInbox"] == "https://social.blois.fr/inbox"
    key = actor["publicKey"]
    assert key["owner"] == actor["id"] and key["id"] == actor["id"] + "#main-key"
    assert load_pem_public_key(key["publicKeyPem"].encode()).key_size == 2048
    assert actor["assertionMethod"][0]["publicKeyMultibase"].startswith("z6Mk")
    assert ActorKey.objects.count() == 1
    assert _get(client_on, "/@ville", LD)["publicKey"] == key  # same key, not regenerated
    assert ActorKey.objects.count() == 1


def test_html_and_json_at_the_same_url(client_on: Client, account: Account) -> None:
    html = client_on.get("/@ville", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert html["Content-Type"].startswith("text/html")
    assert "Accept" in html["Vary"]
    json_response = client_on.get("/@ville", HTTP_ACCEPT=AP)
    assert json_response["Content-Type"].startswith("application/activity+json")
    assert "Accept" in json_response["Vary"]


def test_note_and_addressing(
    client_on: Client, publisher: Staff, account: Account, function_account: Account
) -> None:
    post = services.publish_post(
        publisher,
        account,
        Content(text="Réunion avec @maire #Blois", spoiler_text="Agenda", language="fr"),
    )
    note = _get(client_on, f"/@ville/{post.id}")
    assert note["type"] == "Note" and note["id"] == f"https://social.blois.fr/@ville/{post.id}"
    assert note["attributedTo"] == "https://social.blois.fr/@ville"
    assert note["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert "https://social.blois.fr/@maire" in note["cc"]
    assert note["contentMap"] == {"fr": note["content"]}
    assert note["summary"] == "Agenda" and note["sensitive"] is True
    assert {
        "type": "Hashtag",
        "name": "#blois",
        "href": "https://social.blois.fr/tags/blois",
    } in note["tag"]
    assert {
        "type": "Mention",
        "name": "@maire@social.blois.fr",
        "href": "https://social.blois.fr/@maire",
    } in note["tag"]
    unlisted = services.publish_post(
        publisher, account, Content(text="x", visibility=Visibility.UNLISTED)
    )
    document = _get(client_on, f"/@ville/{unlisted.id}")
    assert document["to"] == ["https://social.blois.fr/@ville/followers"]
    assert document["cc"] == ["https://www.w3.org/ns/activitystreams#Public"]


def test_followers_only_note_is_not_served_and_deleted_is_a_tombstone(
    client_on: Client, publisher: Staff, account: Account
) -> None:
    private = services.publish_post(
        publisher, account, Content(text="x", visibility=Visibility.FOLLOWERS)
    )
    assert client_on.get(f"/@ville/{private.id}", HTTP_ACCEPT=AP).status_code == 404
    gone = services.publish_post(publisher, account, Content(text="y"))
    services.delete_post(publisher, gone)
    response = client_on.get(f"/@ville/{gone.id}", HTTP_ACCEPT=AP)
    assert response.status_code == 410
    assert json.loads(response.content)["type"] == "Tombstone"


def test_edited_note_has_updated(client_on: Client, publisher: Staff, account: Account) -> None:
    post = services.publish_post(publisher, account, Content(text="a"))
    services.edit_post(publisher, post, Content(text="b"))
    note = _get(client_on, f"/@ville/{post.id}")
    assert note["updated"] and note["content"] == "<p>b</p>"


def test_outbox_pages_of_create_activities(
    client_on: Client, publisher: Staff, account: Account, settings
) -> None:
    settings.PARVIS_PAGE_SIZE = 2
    posts = [services.publish_post(publisher, account, Content(text=f"n{i}")) for i in range(3)]
    services.publish_post(publisher, account, Content(text="p", visibility=Visibility.FOLLOWERS))
    outbox = _get(client_on, "/@ville/outbox")
    assert outbox["type"] == "OrderedCollection" and outbox["totalItems"] == 3
    first = _get(client_on, "/@ville/outbox?page=true")
    assert [a["object"]["content"] for a in first["orderedItems"]] == ["<p>n2</p>", "<p>n1</p>"]
    assert all(a["type"] == "Create" for a in first["orderedItems"])
    second = _get(client_on, first["next"].replace("https://social.blois.fr", ""))
    assert [a["object"]["id"] for a in second["orderedItems"]] == [
        f"https://social.blois.fr/@ville/{posts[0].id}"
    ]
    assert "next" not in second
    assert client_on.get("/@ville/outbox?page=true&max_id=abc").status_code == 400


def test_collections_and_suspended_actor(client_on: Client, account: Account) -> None:
    assert _get(client_on, "/@ville/followers")["totalItems"] == 0
    assert _get(client_on, "/@ville/following")["totalItems"] == 0
    assert _get(client_on, "/@ville/collections/featured")["type"] == "OrderedCollection"
    Account.objects.filter(pk=account.pk).update(suspended_at=timezone.now())
    assert client_on.get("/@ville", HTTP_ACCEPT=AP).status_code == 404
    assert (
        client_on.get(
            "/.well-known/webfinger", {"resource": "acct:ville@social.blois.fr"}
        ).status_code
        == 404
    )


def test_nodeinfo_counts(client_on: Client, publisher: Staff, account: Account) -> None:
    services.publish_post(publisher, account, Content(text="x"))
    links = client_on.get("/.well-known/nodeinfo").json()["links"]
    assert [link["href"] for link in links] == [
        "https://social.blois.fr/nodeinfo/2.0",
        "https://social.blois.fr/nodeinfo/2.1",
    ]
    for version in ("2.0", "2.1"):
        document = client_on.get(f"/nodeinfo/{version}").json()
        assert document["version"] == version
        assert document["software"]["name"] == "parvis"
        assert document["protocols"] == ["activitypub"]
        # The publisher fixture also creates @maire, who has not posted.
        assert document["usage"]["users"] == {"total": 2, "activeMonth": 1, "activeHalfyear": 1}
        assert document["usage"]["localPosts"] == 1
    assert client_on.get("/nodeinfo/3.0").status_code == 404


def test_host_meta_points_to_webfinger(client_on: Client, account: Account) -> None:
    body = client_on.get("/.well-known/host-meta").content.decode()
    assert 'template="https://social.blois.fr/.well-known/webfinger?resource={uri}"' in body


def test_featured_lists_pinned_posts_whole(
    client_on: Client, publisher: Staff, account: Account
) -> None:
    empty = _get(client_on, "/@ville/collections/featured")
    assert empty["type"] == "OrderedCollection" and empty["orderedItems"] == []
    first = services.publish_post(publisher, account, Content(text="Horaires d'été"))
    second = services.publish_post(
        publisher, account, Content(text="Abonnés", visibility=Visibility.FOLLOWERS)
    )
    third = services.publish_post(publisher, account, Content(text="Numéros utiles"))
    for post in (first, second, third):
        pins.pin_post(publisher, post)
    featured = _get(client_on, "/@ville/collections/featured")
    # Newest pin first; a followers-only post is not shown to everyone.
    assert [n["id"] for n in featured["orderedItems"]] == [
        f"https://social.blois.fr/@ville/{third.pk}",
        f"https://social.blois.fr/@ville/{first.pk}",
    ]
    assert featured["totalItems"] == 2
    assert featured["orderedItems"][0]["type"] == "Note"
    assert featured["orderedItems"][0]["content"] == "<p>Numéros utiles</p>"


def test_attachments_carry_alt_text_size_and_focal_point(
    client_on: Client, publisher: Staff, account: Account
) -> None:
    media = services.upload_media(
        publisher,
        account,
        image_bytes(size=(640, 480)),
        filename="pont.jpg",
        description="Le pont sous la neige",
        focus=(0.25, -0.5),
    )
    post = services.publish_post(publisher, account, Content(text="Neige"), media_ids=[media.pk])
    note = _get(client_on, f"/@ville/{post.pk}")
    (attachment,) = note["attachment"]
    assert attachment["type"] == "Document" and attachment["mediaType"] == "image/jpeg"
    assert attachment["name"] == "Le pont sous la neige"
    assert (attachment["width"], attachment["height"]) == (640, 480)
    assert attachment["focalPoint"] == [0.25, -0.5]
    assert note["@context"][1]["focalPoint"]["@id"] == "toot:focalPoint"
