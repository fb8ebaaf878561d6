"""Images attached to posts: checked, re-encoded, stripped of metadata, thumbnailed.

An uploaded file is never stored as sent. It is opened with a pixel budget
checked before decoding (decompression bombs are refused), re-encoded from its
pixels only (EXIF, GPS and comments are dropped, orientation is applied first),
shrunk to a maximum size, and given a thumbnail.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


@dataclass
class ProcessedImage:
    content: ContentFile
    thumbnail: ContentFile
    content_type: str
    width: int
    height: int


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=85, optimize=True, progressive=True)
    else:
        image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def process_image(data: bytes, filename: str = "image") -> ProcessedImage:
    """Return the cleaned image and its thumbnail, or raise ValidationError saying why not."""
    if not data:
        raise ValidationError(
            _("Le fichier « %(name)s » est vide.") % {"name": filename}, code="image_empty"
        )
    if len(data) > settings.PARVIS_MAX_IMAGE_BYTES:
        raise ValidationError(
            _("L'image « %(name)s » pèse %(size)d Mo ; la limite est %(max)d Mo.")
            % {
                "name": filename,
                "size": len(data) // (1024 * 1024),
                "max": settings.PARVIS_MAX_IMAGE_BYTES // (1024 * 1024),
            },
            code="image_too_large",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ValidationError(
                    _(
                        "Le format %(format)s de « %(name)s » n'est pas accepté "
                        "(JPEG, PNG, WebP ou GIF)."
                    )
                    % {"format": image.format, "name": filename},
                    code="image_format",
                )
            width, height = image.size
            if width * height > settings.PARVIS_MAX_IMAGE_PIXELS:
                raise ValidationError(
                    _(
                        "L'image « %(name)s » fait %(w)d × %(h)d pixels, au-delà de la limite "
                        "de %(max)d millions de pixels."
                    )
                    % {
                        "name": filename,
                        "w": width,
                        "h": height,
                        "max": settings.PARVIS_MAX_IMAGE_PIXELS // 1_000_000,
                    },
                    code="image_too_many_pixels",
                )
            image.load()
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(
            _("L'image « %(name)s » est trop grande une fois décompressée.") % {"name": filename},
            code="image_bomb",
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(
            _("Le fichier « %(name)s » n'est pas une image lisible.") % {"name": filename},
            code="image_invalid",
        ) from exc

    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    fmt = "PNG" if has_alpha else "JPEG"
    # Copy the pixels into a fresh image so no metadata block survives.
    clean = Image.new("RGBA" if has_alpha else "RGB", image.size)
    clean.paste(image.convert("RGBA" if has_alpha else "RGB"))
    side = settings.PARVIS_IMAGE_MAX_SIDE
    if max(clean.size) > side:
        clean.thumbnail((side, side), Image.Resampling.LANCZOS)
    thumb = clean.copy()
    thumb_side = settings.PARVIS_THUMBNAIL_SIDE
    thumb.thumbnail((thumb_side, thumb_side), Image.Resampling.LANCZOS)
    extension = "png" if fmt == "PNG" else "jpg"
    return ProcessedImage(
        content=ContentFile(_encode(clean, fmt), name=f"image.{extension}"),
        thumbnail=ContentFile(_encode(thumb, fmt), name=f"thumb.{extension}"),
        content_type="image/png" if fmt == "PNG" else "image/jpeg",
        width=clean.width,
        height=clean.height,
    )
