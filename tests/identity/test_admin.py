"""The admin site lets a server administrator manage accounts, with images cleaned."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from parvis.identity.models import Account, Staff
from tests.conftest import image_bytes


def test_admin_lists_accounts_and_cleans_an_uploaded_avatar(account: Account) -> None:
    Staff.objects.create_superuser("root", "root@example.invalid", "s3cret-pass")
    client = Client()
    client.login(username="root", password="s3cret-pass")
    assert "ville" in client.get("/admin/identity/account/").content.decode()
    form = client.get(f"/admin/identity/account/{account.id}/change/")
    assert form.status_code == 200
    exif = Image.Exif()
    exif[0x010F] = "Appareil"
    photo = io.BytesIO()
    Image.new("RGB", (300, 300), (1, 2, 3)).save(photo, "JPEG", exif=exif.tobytes())
    response = client.post(
        f"/admin/identity/account/{account.id}/change/",
        {
            "domain": account.domain_id,
            "handle": "ville",
            "kind": "institution",
            "display_name": "Ville de Blois",
            "bio": "",
            "fields": "[]",
            "language": "fr",
            "institution": account.institution_id,
            "discoverable": "on",
            "avatar": SimpleUploadedFile("a.jpg", photo.getvalue(), "image/jpeg"),
            "roles-TOTAL_FORMS": "0",
            "roles-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert not Image.open(account.avatar.path).getexif()


def test_admin_refuses_a_non_image_avatar(account: Account) -> None:
    Staff.objects.create_superuser("root", "root@example.invalid", "s3cret-pass")
    client = Client()
    client.login(username="root", password="s3cret-pass")
    response = client.post(
        f"/admin/identity/account/{account.id}/change/",
        {
            "domain": account.domain_id,
            "handle": "ville",
            "kind": "institution",
            "display_name": "Ville de Blois",
            "fields": "[]",
            "language": "fr",
            "avatar": SimpleUploadedFile("a.png", b"not an image" + image_bytes()[:10]),
            "roles-TOTAL_FORMS": "0",
            "roles-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    account.refresh_from_db()
    assert not account.avatar


def test_admin_refuses_a_reserved_handle(account: Account) -> None:
    Staff.objects.create_superuser("root", "root@example.invalid", "s3cret-pass")
    client = Client()
    client.login(username="root", password="s3cret-pass")
    response = client.post(
        "/admin/identity/account/add/",
        {
            "domain": account.domain_id,
            "handle": "admin",
            "kind": "institution",
            "display_name": "Faux",
            "fields": "[]",
            "language": "fr",
            "roles-TOTAL_FORMS": "0",
            "roles-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "réservé" in response.content.decode()
    assert not Account.objects.filter(handle="admin").exists()
