"""Statuses through the API: publish as the token's account with its role, read, delete."""

from __future__ import annotations

from django.core.cache import cache

from parvis.identity.models import Account, Staff
from parvis.publishing.models import Draft, Post, Visibility
from parvis.publishing.services import Content, publish_post
from tests.api.conftest import Api


def test_a_publisher_publishes_and_reads_back(api: Api, account: Account) -> None:
    created = api.post(
        "/api/v1/statuses",
        {"status": "Travaux rue Denis-Papin #voirie", "visibility": "public", "language": "fr"},
    )
    assert created.status_code == 200, created.content
    status = created.json()
    assert status["account"]["id"] == str(account.pk)
    assert "#voirie" in status["content"] or "voirie" in status["content"]
    assert status["tags"][0]["name"] == "voirie"
    assert status["visibility"] == "public" and status["favourited"] is False
    post = Post.objects.get(pk=int(status["id"]))
    assert post.account == account and post.published_by is not None
    fetched = Api().get(f"/api/v1/statuses/{status['id']}")
    assert fetched.status_code == 200 and fetched.json()["id"] == status["id"]
    assert "favourited" not in fetched.json() or fetched.json()["favourited"] is None


def test_an_editors_token_submits_for_approval(token_for, editor: Staff, account: Account) -> None:
    api = Api(token_for(editor, account))
    response = api.post("/api/v1/statuses", {"status": "Projet de message"})
    assert response.status_code == 202, response.content
    draft = Draft.objects.get(pk=int(response.json()["id"]))
    assert draft.state == Draft.State.PENDING and draft.post is None
    assert not Post.objects.exists()


def test_form_encoded_status_with_rails_arrays(api: Api) -> None:
    response = api.post(
        "/api/v1/statuses",
        {"status": "Par formulaire", "visibility": "unlisted", "media_ids[]": []},
        json=False,
    )
    assert response.status_code == 200, response.content
    assert response.json()["visibility"] == "unlisted"


def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    cache.clear()
    first = api.post("/api/v1/statuses", {"status": "Une fois"}, **{"Idempotency-Key": "k1"})
    again = api.post("/api/v1/statuses", {"status": "Autre texte"}, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Post.objects.count() == 1


def test_bad_statuses_change_nothing(api: Api) -> None:
    cases = [
        ({"status": ""}, 422),
        ({"status": "x" * 5000}, 422),
        ({"status": "ok", "visibility": "everyone"}, 422),
        ({"status": "ok", "visibility": "direct"}, 422),
        ({"status": "ok", "in_reply_to_id": "999999"}, 404),
        ({"status": "ok", "in_reply_to_id": "abc"}, 404),
        ({"status": "ok", "media_ids": ["12345"]}, 422),
        ({"status": "ok", "poll": {"options": ["a", "b"], "expires_in": 300}}, 422),
        ({"status": "ok", "scheduled_at": "demain"}, 422),
        ({"status": "ok", "language": "xx-nope"}, 422),
        ({"status": ["not", "a", "string"]}, 422),
    ]
    for body, status in cases:
        response = api.post("/api/v1/statuses", body)
        assert response.status_code == status, (body, response.content)
        assert list(response.json()) == ["error"], body
    malformed = api.client.post(
        "/api/v1/statuses",
        b"{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert malformed.status_code == 400
    assert not Post.objects.exists() and not Draft.objects.exists()


def test_followers_only_posts_are_hidden_from_strangers(publisher: Staff, account: Account) -> None:
    post = publish_post(
        publisher, account, Content("Réservé aux abonnés", visibility=Visibility.FOLLOWERS)
    )
    assert Api().get(f"/api/v1/statuses/{post.pk}").status_code == 404


def test_delete_returns_the_text_for_a_redraft(api: Api) -> None:
    status = api.post("/api/v1/statuses", {"status": "À effacer"}).json()
    deleted = api.delete(f"/api/v1/statuses/{status['id']}")
    assert deleted.status_code == 200, deleted.content
    assert deleted.json()["text"] == "À effacer"
    assert Post.objects.get(pk=int(status["id"])).deleted_at is not None
    assert api.get(f"/api/v1/statuses/{status['id']}").status_code == 404


def test_another_accounts_status_cannot_be_deleted(
    api: Api, publisher: Staff, function_account: Account
) -> None:
    other = publish_post(publisher, function_account, Content("Message du maire"))
    response = api.delete(f"/api/v1/statuses/{other.pk}")
    assert response.status_code == 404
    assert Post.objects.get(pk=other.pk).deleted_at is None


def test_context_lists_the_thread(api: Api) -> None:
    root = api.post("/api/v1/statuses", {"status": "Début"}).json()
    reply = api.post("/api/v1/statuses", {"status": "Suite", "in_reply_to_id": root["id"]}).json()
    assert reply["in_reply_to_id"] == root["id"]
    around = api.get(f"/api/v1/statuses/{reply['id']}/context").json()
    assert [s["id"] for s in around["ancestors"]] == [root["id"]]
    below = api.get(f"/api/v1/statuses/{root['id']}/context").json()
    assert [s["id"] for s in below["descendants"]] == [reply["id"]]
    assert api.get(f"/api/v1/statuses/{root['id']}").json()["replies_count"] == 1


def test_edit_keeps_a_history_and_the_source(api: Api) -> None:
    status = api.post("/api/v1/statuses", {"status": "Première version"}).json()
    edited = api.client.put(
        f"/api/v1/statuses/{status['id']}",
        {"status": "Seconde version", "spoiler_text": "Correction"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert edited.status_code == 200, edited.content
    assert "Seconde version" in edited.json()["content"] and edited.json()["edited_at"]
    history = api.get(f"/api/v1/statuses/{status['id']}/history").json()
    assert ["Première" in v["content"] for v in history] == [True, False]
    source = api.get(f"/api/v1/statuses/{status['id']}/source").json()
    assert source == {"id": status["id"], "text": "Seconde version", "spoiler_text": "Correction"}


def test_a_refused_edit_changes_nothing(api: Api) -> None:
    status = api.post("/api/v1/statuses", {"status": "Intact"}).json()
    for body in ({"status": ""}, {"status": "x" * 5000}, {"media_ids": ["42"]}):
        response = api.client.put(
            f"/api/v1/statuses/{status['id']}",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {api.token}"},
        )
        assert response.status_code == 422, (body, response.content)
    assert Post.objects.get(pk=int(status["id"])).text == "Intact"
    assert len(api.get(f"/api/v1/statuses/{status['id']}/history").json()) == 1
