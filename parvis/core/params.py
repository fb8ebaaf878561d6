"""Query parameters shared by every protocol: read strictly, refused with a 400."""

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django.utils.translation import gettext as _


def id_param(request: HttpRequest, name: str) -> int | None:
    """An id-like parameter (``max_id``…): None when absent, 400 unless a 64-bit id."""
    raw = request.GET.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise BadRequest(_("Paramètre « %(name)s » invalide.") % {"name": name})
    return int(raw)
