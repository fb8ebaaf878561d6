"""The account's own profile through the API: what update_credentials changes, who may
change it, and that refusals change nothing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image

from parvis.identity.models import Account, Staff
from tests.api.conftest import Api
from tests.conftest import image_bytes

CREDENTIALS = "/api/v1/accounts/update_credentials"


# --- helpers ---------------------------------------------------------------------------


def queued(task_name: str) -> int:
    """How many background tasks named ``task_name`` wait to run."""
    return DBTaskResult.objects.filter(task_path__endswith=f".{task_name}").count()


def patch_json(api: Api, data: dict[str, Any]):
    return api.client.patch(
        CREDENTIALS, json.dumps(data), content_type="application/json", headers=api._headers(None)
    )


def patch_form(api: Api, form: dict[str, Any]):
    return api.client.patch(
        CREDENTIALS,
        encode_multipart(BOUNDARY, form),
        content_type=MULTIPART_CONTENT,
        headers=api._headers(None),
    )


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def profile(account: Account) -> tuple[Any, ...]:
    """What update_credentials may change, to check that a refusal changed nothing."""
    account.refresh_from_db()
    return (
        account.display_name,
        account.bio,
        account.locked,
        account.discoverable,
        account.fields,
        account.language,
        account.avatar.name,
        account.header.name,
    )


# --- update_credentials ----------------------------------------------------------------


def test_update_credentials_changes_the_profile_and_federates_it(
    api: Api, account: Account
) -> None:
    before = queued("federate_account_updated")
    answer = patch_json(
        api,
        {
            "display_name": "  Ville de Blois — Mairie ",
            "note": "Hôtel de ville.\r\n\r\nOuvert du lundi au vendredi.",
            "locked": True,
            "discoverable": False,
            "bot": False,
            "fields_attributes": [
                {"name": "Site", "value": "https://blois.fr"},
                {"name": "", "value": ""},
            ],
            "source": {"language": "en", "privacy": "unlisted"},
        },
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["display_name"] == "Ville de Blois — Mairie" and body["locked"] is True
    assert body["discoverable"] is False and body["bot"] is False
    assert body["note"] == "<p>Hôtel de ville.</p><p>Ouvert du lundi au vendredi.</p>"
    assert body["fields"] == [{"name": "Site", "value": "https://blois.fr", "verified_at": None}]
    assert body["source"]["note"] == "Hôtel de ville.\n\nOuvert du lundi au vendredi."
    assert body["source"]["language"] == "en" and body["source"]["privacy"] == "public"
    account.refresh_from_db()
    assert account.display_name == "Ville de Blois — Mairie" and account.language == "en"
    assert account.fields == [{"name": "Site", "value": "https://blois.fr"}]
    # The followers' servers are sent the new actor (Update), in the same transaction.
    assert queued("federate_account_updated") == before + 1
    # The new name is searched.
    found = Api().get("/api/v2/search", {"q": "mairie"}).json()["accounts"]
    assert [entry["acct"] for entry in found] == ["ville"]
    # Nothing to change changes nothing, and sends nothing.
    assert patch_json(api, {}).status_code == 200
    assert queued("federate_account_updated") == before + 1


def test_update_credentials_reads_rails_forms_and_reencodes_images(
    api: Api, account: Account, django_capture_on_commit_callbacks
) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Appareil de la mairie"  # Make
    photo = image_bytes("JPEG", (900, 700), exif=exif.tobytes())
    answer = patch_form(
        api,
        {
            "display_name": "Ville de Blois",
            "locked": "true",
            "fields_attributes[0][name]": "Adresse",
            "fields_attributes[0][value]": "Place Saint-Louis",
            "fields_attributes[1][name]": "Téléphone",
            "fields_attributes[1][value]": "02 54 44 50 50",
            "source[language]": "fr",
            "avatar": SimpleUploadedFile("moi.jpg", photo, "image/jpeg"),
            "header": SimpleUploadedFile(
                "facade.png", image_bytes("PNG", (1500, 500)), "image/png"
            ),
        },
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert [f["name"] for f in body["fields"]] == ["Adresse", "Téléphone"]
    assert body["locked"] is True
    account.refresh_from_db()
    assert account.avatar.name.startswith("avatars/") and account.header.name.startswith("headers/")
    assert body["avatar"].endswith(account.avatar.url) and body["header"].endswith(
        account.header.url
    )
    # Re-encoded from its pixels: the camera's metadata is gone.
    with account.avatar.open("rb") as stored:
        image = Image.open(io.BytesIO(stored.read()))
        assert image.format == "JPEG" and image.size == (900, 700)
        assert not image.getexif()
    assert photo != Path(account.avatar.path).read_bytes()
    # A new avatar replaces the old one, whose file goes once the change is committed.
    old = Path(account.avatar.path)
    with django_capture_on_commit_callbacks(execute=True):
        again = patch_form(api, {"avatar": SimpleUploadedFile("b.png", image_bytes("PNG"))})
    assert again.status_code == 200, again.content
    account.refresh_from_db()
    assert not old.exists() and Path(account.avatar.path).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"display_name": "x" * 101}, "Le nom affiché compte 101 caractères"),
        ({"display_name": "   "}, "Le nom affiché est vide"),
        ({"note": "x" * 2001}, "La présentation compte 2001 caractères ; la limite est 2000"),
        ({"note": "nul\x00"}, "caractère nul"),
        ({"bot": True}, "bot ne peut valoir que false"),
        (
            {"fields_attributes": {str(n): {"name": f"n{n}", "value": "v"} for n in range(5)}},
            "5 champs ; la limite est 4",
        ),
        ({"fields_attributes": [{"name": "x" * 256, "value": "v"}]}, "256 caractères"),
        ({"fields_attributes": [{"name": "", "value": "orpheline"}]}, "n'a pas de libellé"),
        ({"source": {"language": "klingon"}}, "Langue inconnue"),
        ({"locked": "peut-être"}, "locked"),
        ({"fields_attributes": "beaucoup"}, "fields_attributes"),
    ],
)
def test_refused_profile_changes_change_nothing(
    api: Api, account: Account, data: dict[str, Any], message: str
) -> None:
    before, tasks = profile(account), queued("federate_account_updated")
    answer = patch_json(api, {"display_name": "Nouveau nom", **data})
    assert answer.status_code == 422, answer.content
    assert message in answer.json()["error"]
    assert profile(account) == before
    assert queued("federate_account_updated") == tasks


def test_profile_fields_are_kept_as_written_and_shown_as_text(api: Api, account: Account) -> None:
    written = {"name": "<b>Site</b>", "value": "<script>alert('x')</script> & co"}
    answer = patch_json(api, {"fields_attributes": [written]})
    assert answer.status_code == 200, answer.content
    account.refresh_from_db()
    assert account.fields == [written]
    # Clients read the entity's fields as HTML: no markup of the author reaches them.
    shown = {
        "name": "&lt;b&gt;Site&lt;/b&gt;",
        "value": "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co",
        "verified_at": None,
    }
    assert answer.json()["fields"] == [shown]
    assert Api().get(f"/api/v1/accounts/{account.pk}").json()["fields"] == [shown]
    # The source is what the profile form edits: the text as written.
    assert answer.json()["source"]["fields"] == [{**written, "verified_at": None}]


def test_a_bad_image_refuses_the_whole_change(api: Api, account: Account) -> None:
    before = profile(account)
    answer = patch_form(
        api,
        {
            "display_name": "Nouveau nom",
            "header": SimpleUploadedFile("bannière.png", image_bytes("PNG"), "image/png"),
            "avatar": SimpleUploadedFile("moi.jpg", b"pas une image", "image/jpeg"),
        },
    )
    assert answer.status_code == 422
    assert "« moi.jpg » n'est pas une image lisible" in answer.json()["error"]
    assert profile(account) == before
    assert stored_files() == []
    assert queued("federate_account_updated") == 0


def test_only_roles_that_publish_change_the_profile(
    token_for: Callable[..., str], editor: Staff, account: Account
) -> None:
    before = profile(account)
    answer = patch_json(Api(token_for(editor, account)), {"display_name": "Piratage"})
    assert answer.status_code == 403
    assert "profil public" in answer.json()["error"]
    assert profile(account) == before
    reader = Api(token_for(editor, account, scope="read"))
    assert patch_json(reader, {"display_name": "Lecture"}).status_code == 403
    assert patch_json(Api(), {"display_name": "Anonyme"}).status_code == 401
    assert profile(account) == before


def test_a_frozen_account_keeps_its_profile(api: Api, account: Account) -> None:
    account.frozen_at = timezone.now()
    account.save()
    before = profile(account)
    answer = patch_json(api, {"note": "Fin de mandat"})
    assert answer.status_code == 422 and "gelé" in answer.json()["error"]
    assert profile(account) == before
