"""The back-office over HTTP: publishing works, and every bad input gets a 4xx and saves nothing."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from parvis.identity.models import Account, Staff
from parvis.publishing import services
from parvis.publishing.models import Draft, MediaAttachment, Post
from parvis.publishing.services import Content
from tests.publishing.test_media import _png_bomb


def _login(staff: Staff) -> Client:
    client = Client()
    assert client.login(username=staff.username, password="s3cret-pass")
    return client


def _compose(client: Client, account: Account, **data: object):
    payload = {"text": "", "language": "fr", "visibility": "public", "action": "publish"}
    payload.update(data)
    return client.post(f"/backoffice/accounts/{account.id}/", payload)


def test_login_page_and_redirect_for_anonymous(account: Account) -> None:
    assert Client().get("/backoffice/login/").status_code == 200
    response = Client().get(f"/backoffice/accounts/{account.id}/")
    assert response.status_code == 302 and "/backoffice/login/" in response["Location"]


def test_wrong_password_is_a_400_with_a_message(publisher: Staff) -> None:
    response = Client().post("/backoffice/login/", {"username": "com", "password": "nope"})
    assert response.status_code == 400
    assert "incorrect" in response.content.decode()
    ok = Client().post("/backoffice/login/", {"username": "com", "password": "s3cret-pass"})
    assert ok.status_code == 302


def test_login_in_english(account: Account) -> None:
    html = Client().get("/en/backoffice/login/").content.decode()
    assert 'lang="en"' in html


def test_publisher_publishes_with_an_image(publisher: Staff, account: Account, jpeg: bytes) -> None:
    client = _login(publisher)
    response = _compose(
        client,
        account,
        text="Marché #Blois",
        image_0=SimpleUploadedFile("m.jpg", jpeg, "image/jpeg"),
        alt_0="Le marché, place Louis XII",
    )
    assert response.status_code == 302
    post = Post.objects.get()
    assert post.text == "Marché #Blois" and post.published_by == publisher
    assert post.media.get().description == "Le marché, place Louis XII"


def test_editor_submits_and_publisher_approves(
    editor: Staff, publisher: Staff, account: Account
) -> None:
    response = _compose(_login(editor), account, text="Proposition", action="submit")
    assert response.status_code == 302
    draft = Draft.objects.get()
    assert draft.state == Draft.State.PENDING and not Post.objects.exists()
    dashboard = _login(publisher).get("/backoffice/").content.decode()
    assert "Proposition" in dashboard
    response = _login(publisher).post(
        f"/backoffice/drafts/{draft.id}/",
        {
            "text": "Proposition relue",
            "language": "fr",
            "visibility": "public",
            "action": "publish",
        },
    )
    assert response.status_code == 302
    assert Post.objects.get().text == "Proposition relue"


def test_editor_cannot_publish_directly(editor: Staff, account: Account) -> None:
    response = _compose(_login(editor), account, text="Direct", action="publish")
    assert response.status_code == 403
    assert not Post.objects.exists() and not Draft.objects.exists()


def test_no_role_no_access(make_staff, account: Account) -> None:
    client = _login(make_staff("dehors"))
    assert client.get(f"/backoffice/accounts/{account.id}/").status_code == 403
    assert _compose(client, account, text="x").status_code == 403
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": ""}, "Le message est vide."),
        ({"text": "a" * 1001}, "la limite est 1000"),
        ({"text": "x", "visibility": "secret"}, "Visibilité inconnue"),
        ({"text": "x", "language": "xx"}, "Sélectionnez un choix valide"),
        ({"text": "x", "action": "launch"}, "Action inconnue"),
        ({"text": "x", "scheduled_at": "2001-01-01T10:00"}, "futur"),
        ({"text": "x", "scheduled_at": "demain"}, "Saisissez une date"),
        ({"text": "x", "alt_0": "sans image"}, "sans image"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem_and_saves_nothing(
    publisher: Staff, account: Account, data: dict[str, str], message: str
) -> None:
    response = _compose(_login(publisher), account, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Post.objects.exists() and not Draft.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "alt", "message"),
    [
        ("a.jpg", b"pas une image", "x", "pas une image lisible"),
        ("bomb.png", _png_bomb(60000, 60000), "x", "trop grande une fois décompressée"),
        ("ok.jpg", None, "", "texte alternatif"),
    ],
)
def test_bad_images_are_a_400_and_leave_no_file(
    publisher: Staff,
    account: Account,
    jpeg: bytes,
    name: str,
    content: bytes | None,
    alt: str,
    message: str,
    settings,
) -> None:
    response = _compose(
        _login(publisher),
        account,
        text="x",
        image_0=SimpleUploadedFile(name, content or jpeg),
        alt_0=alt,
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MediaAttachment.objects.exists() and not Post.objects.exists()
    media_dir = settings.MEDIA_ROOT / "media"
    assert not media_dir.exists() or not any(p.is_file() for p in media_dir.rglob("*"))


def test_oversized_image_is_refused(
    publisher: Staff, account: Account, jpeg: bytes, settings
) -> None:
    settings.PARVIS_MAX_IMAGE_BYTES = 100
    response = _compose(
        _login(publisher), account, text="x", image_0=SimpleUploadedFile("a.jpg", jpeg), alt_0="a"
    )
    assert response.status_code == 400 and "la limite est" in response.content.decode()


def test_schedule_then_worker_publishes(publisher: Staff, account: Account) -> None:
    when = timezone.localtime() + timedelta(hours=2)
    response = _compose(
        _login(publisher), account, text="Plus tard", scheduled_at=when.strftime("%Y-%m-%dT%H:%M")
    )
    assert response.status_code == 302
    assert Draft.objects.get().state == Draft.State.SCHEDULED
    assert not Post.objects.exists()


def test_frozen_account_cannot_publish_over_http(publisher: Staff, account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(frozen_at=timezone.now())
    response = _compose(_login(publisher), account, text="x")
    assert response.status_code == 400 and "gelé" in response.content.decode()
    assert not Post.objects.exists()


def test_edit_and_delete_over_http(publisher: Staff, account: Account) -> None:
    post = services.publish_post(publisher, account, Content(text="Avant"))
    client = _login(publisher)
    assert client.get(f"/backoffice/posts/{post.id}/edit/").status_code == 200
    response = client.post(
        f"/backoffice/posts/{post.id}/edit/", {"text": "Après", "language": "fr"}
    )
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.text == "Après" and post.edits.count() == 2
    bad = client.post(f"/backoffice/posts/{post.id}/edit/", {"text": "", "language": "fr"})
    assert bad.status_code == 400
    assert client.post(f"/backoffice/posts/{post.id}/delete/").status_code == 302
    post.refresh_from_db()
    assert post.deleted_at is not None


def test_editor_cannot_edit_or_delete_posts(
    editor: Staff, publisher: Staff, account: Account
) -> None:
    post = services.publish_post(publisher, account, Content(text="x"))
    client = _login(editor)
    assert (
        client.post(
            f"/backoffice/posts/{post.id}/edit/", {"text": "y", "language": "fr"}
        ).status_code
        == 403
    )
    assert client.post(f"/backoffice/posts/{post.id}/delete/").status_code == 403
    post.refresh_from_db()
    assert post.text == "x" and post.deleted_at is None


def test_reject_sends_back_to_author(editor: Staff, publisher: Staff, account: Account) -> None:
    draft = services.submit_draft(editor, services.save_draft(editor, account, Content(text="x")))
    response = _login(publisher).post(
        f"/backoffice/drafts/{draft.id}/reject/", {"note": "Préciser l'horaire"}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.state == Draft.State.DRAFT and draft.review_note == "Préciser l'horaire"
