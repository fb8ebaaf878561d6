"""Image uploads: cleaned, limited, and refused with a reason when unusable."""

import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from parvis.identity.models import Account, Staff
from parvis.publishing.media import process_image
from parvis.publishing.models import MediaAttachment
from parvis.publishing.services import upload_media
from tests.conftest import image_bytes


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (640, 480), (200, 10, 10))
    exif = Image.Exif()
    exif[0x010F] = "Appareil du cabinet"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90°
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def test_metadata_is_stripped_and_orientation_applied() -> None:
    result = process_image(_jpeg_with_gps(), "photo.jpg")
    cleaned = Image.open(io.BytesIO(result.content.read()))
    assert not cleaned.getexif()
    assert (result.width, result.height) == (480, 640)
    assert result.content_type == "image/jpeg"


def test_large_image_is_shrunk_and_thumbnailed(settings) -> None:
    settings.PARVIS_IMAGE_MAX_SIDE = 1000
    result = process_image(image_bytes(size=(3000, 1500)), "big.jpg")
    assert (result.width, result.height) == (1000, 500)
    thumb = Image.open(io.BytesIO(result.thumbnail.read()))
    assert max(thumb.size) == settings.PARVIS_THUMBNAIL_SIDE


def test_transparent_png_stays_png() -> None:
    assert process_image(image_bytes("PNG"), "logo.png").content_type == "image/png"


def _png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header announces a huge image (decompression bomb)."""
    raw = zlib.compress(b"\x00" * 1024)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "image_empty"),
        (b"%PDF-1.7 not an image", "image_invalid"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image_invalid"),
        (_png_bomb(60000, 60000), "image_bomb"),
        (_png_bomb(8000, 6000), "image_too_many_pixels"),
        (image_bytes("BMP"), "image_format"),
        (image_bytes("TIFF"), "image_format"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(data: bytes, code: str) -> None:
    with pytest.raises(ValidationError) as error:
        process_image(data, "fichier")
    assert error.value.code == code


def test_oversized_file_is_refused_before_decoding(settings) -> None:
    settings.PARVIS_MAX_IMAGE_BYTES = 1000
    with pytest.raises(ValidationError) as error:
        process_image(image_bytes(size=(400, 400)), "lourd.jpg")
    assert error.value.code == "image_too_large"


def test_alt_text_is_mandatory_and_nothing_is_stored(
    publisher: Staff, account: Account, jpeg: bytes
) -> None:
    with pytest.raises(ValidationError, match="texte alternatif"):
        upload_media(publisher, account, jpeg, filename="a.jpg", description="  ")
    assert not MediaAttachment.objects.exists()
