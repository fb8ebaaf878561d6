"""Media through the API: upload with alt text, read, describe, publish; bad uploads refused."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from PIL import Image

from parvis.identity.models import Account, Staff
from parvis.publishing.models import MediaAttachment
from parvis.publishing.services import upload_media
from tests.api.conftest import Api
from tests.conftest import image_bytes

MEDIA_FIELDS = {
    "id", "type", "url", "preview_url", "remote_url", "preview_remote_url", "text_url", "meta",
    "description", "blurhash",
}  # fmt: skip
FORM = "application/x-www-form-urlencoded"
ALT = "Façade de l'hôtel de ville sous la neige"


def upload(
    api: Api,
    data: bytes,
    *,
    description: str | None = ALT,
    name: str = "photo.jpg",
    content_type: str = "image/jpeg",
    path: str = "/api/v2/media",
    **fields: str,
):
    form: dict[str, Any] = {"file": SimpleUploadedFile(name, data, content_type), **fields}
    if description is not None:
        form["description"] = description
    return api.post(path, form, json=False)


def put(api: Api, path: str, body: str | bytes, content_type: str):
    return api.client.put(
        path, body, content_type=content_type, headers={"Authorization": f"Bearer {api.token}"}
    )


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` × ``height`` pixels in a few bytes (never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Appareil de la mairie"  # Make
    exif[0x8825] = {1: "N", 2: (47.0, 35.0, 12.0)}  # GPS
    return image_bytes(exif=exif.tobytes())


def test_upload_answers_a_complete_entity(api: Api, account: Account) -> None:
    sent = with_gps()
    with Image.open(io.BytesIO(sent)) as original:
        assert original.getexif().get_ifd(0x8825)  # GPS, to be dropped
    response = upload(api, sent, focus="0.5,-0.25")
    assert response.status_code == 200, response.content
    entity = response.json()
    assert set(entity) >= MEDIA_FIELDS
    assert entity["type"] == "image" and entity["description"] == ALT
    assert entity["meta"]["original"] == {
        "width": 800,
        "height": 600,
        "size": "800x600",
        "aspect": 800 / 600,
    }
    assert entity["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    media = MediaAttachment.objects.get(pk=int(entity["id"]))
    assert media.account == account and media.post is None and media.description == ALT
    assert entity["url"].startswith("http") and entity["url"].endswith(media.file.url)
    assert entity["preview_url"].endswith(media.thumbnail.url)
    stored = media.file.read()
    assert stored != sent
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (800, 600)
        assert not image.getexif()
    assert api.get(f"/api/v1/media/{entity['id']}").json() == entity


def test_v1_upload_and_an_editors_token(token_for, editor: Staff, account: Account) -> None:
    api = Api(token_for(editor, account))
    response = upload(api, image_bytes("PNG", (40, 30)), path="/api/v1/media", name="plan.png")
    assert response.status_code == 200, response.content
    assert response.json()["meta"]["original"]["size"] == "40x30"
    assert MediaAttachment.objects.get().account == account


def test_another_accounts_media_is_not_found(
    api: Api, publisher: Staff, function_account: Account, jpeg: bytes
) -> None:
    theirs = upload_media(publisher, function_account, jpeg, filename="a.jpg", description="Maire")
    for path in (f"/api/v1/media/{theirs.pk}", "/api/v1/media/abc", "/api/v1/media/1e5"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert list(response.json()) == ["error"]
    changed = put(
        api, f"/api/v1/media/{theirs.pk}", json.dumps({"description": "Autre"}), "application/json"
    )
    assert changed.status_code == 404
    theirs.refresh_from_db()
    assert theirs.description == "Maire"


def test_the_alt_text_is_updated_in_json_and_in_forms(api: Api, jpeg: bytes) -> None:
    media_id = upload(api, jpeg).json()["id"]
    path = f"/api/v1/media/{media_id}"
    as_json = put(
        api, path, json.dumps({"description": "Vue du pont", "focus": "0,0"}), "application/json"
    )
    assert as_json.status_code == 200, as_json.content
    assert as_json.json()["description"] == "Vue du pont"
    as_form = put(
        api,
        path,
        urlencode({"description": "Vue du pont Jacques-Gabriel"}),
        FORM,
    )
    assert as_form.status_code == 200, as_form.content
    assert MediaAttachment.objects.get().description == "Vue du pont Jacques-Gabriel"
    as_multipart = put(
        api, path, encode_multipart(BOUNDARY, {"description": "Le pont"}), MULTIPART_CONTENT
    )
    assert as_multipart.status_code == 200, as_multipart.content
    assert as_multipart.json()["description"] == "Le pont"
    put(api, path, urlencode({"description": "Vue du pont Jacques-Gabriel"}), FORM)
    focus_only = put(api, path, json.dumps({"focus": "0.1,0.2"}), "application/json")
    assert focus_only.json()["description"] == "Vue du pont Jacques-Gabriel"
    for body in ({"description": ""}, {"description": "   "}, {"description": "x" * 1501}):
        refused = put(api, path, json.dumps(body), "application/json")
        assert refused.status_code == 422, body
        assert list(refused.json()) == ["error"]
    emptied = put(api, path, urlencode({"description": ""}), FORM)
    assert emptied.status_code == 422
    assert MediaAttachment.objects.get().description == "Vue du pont Jacques-Gabriel"


def test_publish_a_status_with_the_uploaded_media(api: Api, jpeg: bytes) -> None:
    media = upload(api, jpeg).json()
    created = api.post("/api/v1/statuses", {"status": "Neige ce matin", "media_ids": [media["id"]]})
    assert created.status_code == 200, created.content
    (attached,) = created.json()["media_attachments"]
    assert attached == media
    stored = MediaAttachment.objects.get()
    assert stored.post_id == int(created.json()["id"])
    # Published: still readable by its account, no longer editable.
    assert api.get(f"/api/v1/media/{media['id']}").status_code == 200
    late = put(
        api,
        f"/api/v1/media/{media['id']}",
        json.dumps({"description": "Après"}),
        "application/json",
    )
    assert late.status_code == 404
    stored.refresh_from_db()
    assert stored.description == ALT


def test_bad_uploads_store_nothing(api: Api, settings, jpeg: bytes) -> None:
    settings.PARVIS_MAX_IMAGE_BYTES = 100_000
    cases: list[tuple[str, Any]] = [
        ("no alt text", lambda: upload(api, jpeg, description=None)),
        ("empty alt text", lambda: upload(api, jpeg, description="")),
        ("blank alt text", lambda: upload(api, jpeg, description=" \n ")),
        ("alt text too long", lambda: upload(api, jpeg, description="x" * 1501)),
        ("no file", lambda: api.post("/api/v2/media", {"description": ALT}, json=False)),
        ("json body", lambda: api.post("/api/v2/media", {"description": ALT})),
        ("text file", lambda: upload(api, b"Bonjour", name="a.txt", content_type="text/plain")),
        ("text as jpeg", lambda: upload(api, b"<svg xmlns='http://www.w3.org/2000/svg'/>")),
        ("empty file", lambda: upload(api, b"")),
        ("bmp", lambda: upload(api, image_bytes("BMP", (20, 20)), name="a.bmp")),
        ("too many pixels", lambda: upload(api, png_header(8000, 6000), name="big.png")),
        ("decompression bomb", lambda: upload(api, png_header(30000, 30000), name="bomb.png")),
        ("too heavy", lambda: upload(api, b"\xff\xd8" + b"\x00" * 200_000)),
        ("truncated", lambda: upload(api, jpeg[: len(jpeg) // 3])),
    ]
    for label, send in cases:
        response = send()
        assert response.status_code == 422, (label, response.content)
        assert list(response.json()) == ["error"], label
    assert not MediaAttachment.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize(
    ("description", "needle"),
    [(None, "texte alternatif"), ("", "texte alternatif"), ("x" * 1501, "1 500")],
)
def test_the_alt_text_error_says_what_is_missing(
    api: Api, jpeg: bytes, description: str | None, needle: str
) -> None:
    response = upload(api, jpeg, description=description)
    assert response.status_code == 422
    assert needle in response.json()["error"]


def test_a_body_over_djangos_limit_is_413(
    api: Api, settings, publisher: Staff, account: Account, jpeg: bytes
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = upload(api, jpeg, description="x" * 2000)
    assert response.status_code == 413, response.content
    assert list(response.json()) == ["error"]
    media_id = upload_media(publisher, account, jpeg, filename="a.jpg", description=ALT).pk
    too_big = put(
        api,
        f"/api/v1/media/{media_id}",
        json.dumps({"description": "y" * 2000}),
        "application/json",
    )
    assert too_big.status_code == 413
    assert MediaAttachment.objects.get().description == ALT


def test_a_token_needs_write_media(
    token_for, publisher: Staff, account: Account, jpeg: bytes
) -> None:
    assert upload(Api(), jpeg).status_code == 401
    reader = Api(token_for(publisher, account, scope="read write:statuses"))
    assert upload(reader, jpeg).status_code == 403
    assert not MediaAttachment.objects.exists()
    media_only = Api(token_for(publisher, account, scope="write:media"))
    assert upload(media_only, jpeg).status_code == 200


def test_the_focus_point_is_kept_and_checked(api: Api, jpeg: bytes) -> None:
    media_id = upload(api, jpeg, focus="0.5,-0.25").json()["id"]
    stored = MediaAttachment.objects.get()
    assert (stored.focus_x, stored.focus_y) == (0.5, -0.25)
    path = f"/api/v1/media/{media_id}"
    moved = put(api, path, urlencode({"focus": "-1,1"}), FORM)
    assert moved.status_code == 200, moved.content
    stored.refresh_from_db()
    assert (stored.focus_x, stored.focus_y) == (-1.0, 1.0)
    for focus in ("abc", "2,0", "0.5", "0,0,0", "nan,0", "inf,0", "0,-1.5"):
        refused = put(
            api, path, json.dumps({"description": "Autre", "focus": focus}), "application/json"
        )
        assert refused.status_code == 422, focus
        assert list(refused.json()) == ["error"], focus
        assert upload(api, jpeg, focus=focus).status_code == 422, focus
    # Nothing changed, the alt text sent along included, and no other image was stored.
    stored.refresh_from_db()
    assert (stored.focus_x, stored.focus_y, stored.description) == (-1.0, 1.0, ALT)
    assert MediaAttachment.objects.count() == 1
