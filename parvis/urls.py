from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.static import serve

from parvis.core.negotiation import negotiated
from parvis.core.urls import ACCOUNT_PATH
from parvis.federation.views import objects as activitypub
from parvis.web.urls import backoffice_patterns
from parvis.web.views import public
from parvis.web.views.health import health

urlpatterns = [
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("", include("parvis.federation.urls")),
    path("", include("parvis.api.urls")),
    # The canonical URLs of accounts and posts serve HTML and ActivityStreams JSON.
    # (Feeds, /@handle.rss and /@handle.atom, are left to the web URLs.)
    re_path(
        rf"^@{ACCOUNT_PATH}(?<!\.rss)(?<!\.atom)/?$",
        negotiated(public.profile, activitypub.actor),
    ),
    re_path(
        rf"^@{ACCOUNT_PATH}/(?P<post_id>[0-9]{{1,19}})/?$",
        negotiated(public.post_detail, activitypub.note),
    ),
    *i18n_patterns(
        path("backoffice/", include(backoffice_patterns)),
        path("", include("parvis.web.urls")),
        prefix_default_language=False,
    ),
]


def media(request: HttpRequest, path: str) -> HttpResponse:
    """Uploaded files, for set-ups without a proxy in front (the folder is read per request)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


if settings.PARVIS_SERVE_MEDIA:
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", media))
